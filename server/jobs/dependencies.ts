// What a launch waits for: earlier jobs or sweeps, as SLURM's --dependency value. The ids come from the database
// (never from the user), so each is checked to be a SLURM id before it reaches a #SBATCH line.
import type { EntityManager } from '@mikro-orm/knex';
import { Job, Sweep } from '../db/entities.js';
import { ValidationError } from '../errors.js';
import type { Dependency, DependencyKind } from './input.js';
import { arrayJobIdOf } from '../slurm/arrays.js';
import { latestTasks } from './queries.js';

/** Enough for "after these runs"; SLURM's own limit is the length of the line. */
const MAX_DEPENDENCIES = 20;
const SLURM_ID = /^\d+(_\d+)?$/;


/** The launch waiting: its cluster, and its size when it is a sweep (aftercorr pairs tasks one to one). */
export interface Waiter {
  cluster: string;
  sweepSize: number | null;
}

/** SLURM's --dependency value for `dependsOn` (every one must be met: `afterok:12:13_4,afterany:15`), or null for none. */
export async function dependencyDirective(em: EntityManager, dependsOn: readonly Dependency[] | undefined, waiter: Waiter): Promise<string | null> {
  if (!dependsOn?.length) return null;
  if (dependsOn.length > MAX_DEPENDENCIES) throw new ValidationError('dependsOn', `at most ${MAX_DEPENDENCIES} jobs or sweeps, not ${dependsOn.length}`);
  const byKind = new Map<DependencyKind, string[]>();
  for (const [index, dependency] of dependsOn.entries()) {
    const field = `dependsOn.${index}`;
    if ((dependency.jobId === null) === (dependency.sweepId === null)) throw new ValidationError(field, 'name either a jobId or a sweepId');
    const ids = dependency.jobId !== null ? [await jobId(em, field, dependency, waiter)] : await sweepIds(em, field, dependency, waiter);
    for (const id of ids) if (!SLURM_ID.test(id)) throw new ValidationError(field, `SLURM id ${JSON.stringify(id)} is not one a dependency can name`);
    byKind.set(dependency.kind, [...new Set([...(byKind.get(dependency.kind) ?? []), ...ids])]);
  }
  return [...byKind].map(([kind, ids]) => `${kind}:${ids.join(':')}`).join(',');
}

async function jobId(em: EntityManager, field: string, dependency: Dependency, waiter: Waiter): Promise<string> {
  if (dependency.kind === 'aftercorr') throw new ValidationError(field, 'aftercorr pairs the tasks of two sweeps: name a sweepId');
  const job = await em.findOne(Job, { id: dependency.jobId! }, { fields: ['cluster', 'slurmJobId', 'state'] });
  if (!job) throw new ValidationError(field, `no job with id ${dependency.jobId}`);
  sameCluster(field, `job ${dependency.jobId}`, job.cluster, waiter);
  if (!job.slurmJobId) throw new ValidationError(field, `job ${dependency.jobId} has no SLURM id (${job.state}): wait until SLURM has it`);
  return job.slurmJobId;
}

async function sweepIds(em: EntityManager, field: string, dependency: Dependency, waiter: Waiter): Promise<string[]> {
  const sweep = await em.findOne(Sweep, { id: dependency.sweepId! });
  if (!sweep) throw new ValidationError(field, `no sweep with id ${dependency.sweepId}`);
  sameCluster(field, `sweep ${sweep.id}`, sweep.cluster, waiter);
  if (dependency.kind === 'aftercorr' && waiter.sweepSize !== sweep.size) {
    throw new ValidationError(field, `aftercorr runs task i after task i of sweep ${sweep.id}: ${waiter.sweepSize === null ? 'launch a sweep' : `a sweep of ${sweep.size} runs, not ${waiter.sweepSize}`}`);
  }
  // Its latest tasks are what it stands for now (a relaunch replaces a failed task): their arrays, or the tasks
  // themselves when some came from a relaunch (aftercorr needs one array of the same indexes).
  const tasks = await latestTasks(em, sweep.id);
  if (tasks.some((task) => !task.slurmJobId)) throw new ValidationError(field, `sweep ${sweep.id} has tasks without a SLURM id yet: wait until SLURM has them`);
  const arrays = [...new Set(tasks.map((task) => arrayJobIdOf(task.slurmJobId!)))];
  if (arrays.length === 1) return arrays;
  if (dependency.kind === 'aftercorr') throw new ValidationError(field, `sweep ${sweep.id} spans ${arrays.length} job arrays since its relaunch; aftercorr needs one`);
  // The first array still holds the tasks that failed: name the current tasks one by one.
  return tasks.map((task) => task.slurmJobId!);
}

function sameCluster(field: string, what: string, cluster: string, waiter: Waiter): void {
  if (cluster !== waiter.cluster) throw new ValidationError(field, `${what} runs on ${cluster}: SLURM dependencies hold within one cluster, and this launch goes to ${waiter.cluster}`);
}
