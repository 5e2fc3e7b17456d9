// The one owner of a sweep's state. A sweep has no state of its own to set: it is what its current tasks are doing
// (per array index the newest task: a relaunch replaces the one that failed), counted by state and kept on the row
// (`counts`, `endedAt`) whenever a task changes, saved before it is announced. A failed task never lets the sweep
// show as completed.
import { wrap, type EntityManager } from '@mikro-orm/knex';
import { Sweep, type SweepCounts } from '../db/entities.js';

import { latestTasks } from '../jobs/queries.js';
import { TERMINAL_STATES, type JobState } from '../slurm/state.js';

export const SWEEP_STATES = ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED'] as const;
export type SweepState = (typeof SWEEP_STATES)[number];

const count = (counts: SweepCounts, states: readonly JobState[]) => states.reduce((sum, state) => sum + (counts[state] ?? 0), 0);

/** The sweep's state in one word, from its tasks' counts. */
export function sweepState(counts: SweepCounts): SweepState {
  const total = count(counts, Object.keys(counts) as JobState[]);
  const active = total - count(counts, [...TERMINAL_STATES]);
  if (total === 0 || count(counts, ['SUBMITTING']) === total) return 'SUBMITTING';
  if (active > 0) return count(counts, ['RUNNING', 'COMPLETING']) > 0 ? 'RUNNING' : 'PENDING';
  const completed = counts.COMPLETED ?? 0;
  const cancelled = counts.CANCELLED ?? 0;
  if (completed === total) return 'COMPLETED';
  if (completed + cancelled === total) return 'CANCELLED';
  if (completed === 0 && cancelled === 0) return 'FAILED';
  return 'COMPLETED_WITH_FAILURES';
}

/** The states a relaunch runs again: ended without completing, and not cancelled by someone. */
export const RELAUNCHED_STATES: ReadonlySet<JobState> = new Set([...TERMINAL_STATES].filter((state) => state !== 'COMPLETED' && state !== 'CANCELLED'));

import type { PubSub, SweepSnapshot } from '../events.js';

export function sweepSnapshot(sweep: Sweep): SweepSnapshot {
  const { runs: _runs, ...rest } = wrap(sweep).toPOJO() as unknown as Sweep;
  return rest;
}

const visible = (sweep: Sweep) => JSON.stringify([sweep.counts, sweep.endedAt?.getTime() ?? null, sweep.throttle, sweep.retries, sweep.archived, sweep.arrayJobId]);

/** A sweep as it was before a change, to tell whether the change is news. */
export interface SweepChange {
  sweep: Sweep;
  before: string | null;
}

export const sweepChangeOf = (sweep: Sweep): SweepChange => ({ sweep, before: visible(sweep) });

/** Saves, then announces the sweep when what a person sees of it changed. */
export async function saveAndAnnounceSweep(em: EntityManager, events: PubSub, { sweep, before }: SweepChange): Promise<Sweep> {
  await em.flush();
  if (visible(sweep) !== before) events.publish('sweep:updated', sweepSnapshot(sweep));
  return sweep;
}

/** Counts the sweep's current tasks again; ended when every one has, at the last end. */
export async function recount(em: EntityManager, sweep: Sweep): Promise<void> {
  const tasks = await latestTasks(em, sweep.id, ['state', 'endedAt']);
  const counts: SweepCounts = {};
  for (const task of tasks) counts[task.state] = (counts[task.state] ?? 0) + 1;
  const ended = tasks.length === sweep.size && tasks.every((task) => TERMINAL_STATES.has(task.state));
  sweep.counts = counts;
  sweep.endedAt = ended ? new Date(Math.max(...tasks.map((task) => (task.endedAt ?? new Date()).getTime()))) : null;
  sweep.updatedAt = new Date();
}
