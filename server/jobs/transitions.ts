// How what SLURM (or the job's own lifecycle files) said about a job is written onto our record.
import { wrap } from '@mikro-orm/core';
import type { Job } from '../db/entities.js';
import type { JobSnapshot } from '../events.js';
import { TERMINAL_STATES, type SlurmJobStatus } from '../slurm/state.js';

/** SLURM prints its cluster's local time without a zone; read as this server's local time (same zone assumed). */
export function slurmTime(text: string | null): Date | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

const VISIBLE_FIELDS = ['state', 'slurmState', 'reason', 'exitCode', 'signal', 'nodeList', 'startedAt', 'endedAt', 'slurmJobId', 'submitError', 'archived', 'wandbUrl'] as const;

/** The fields a person sees change; elapsed time and lastSeenAt tick on every poll and are not news. */
export function visibleState(job: Job): string {
  return JSON.stringify(VISIBLE_FIELDS.map((field) => job[field] instanceof Date ? (job[field] as Date).getTime() : job[field]));
}

export function applySlurmStatus(job: Job, status: SlurmJobStatus): void {
  job.slurmState = status.rawState;
  // The job's own end record (COMPLETING, from its lifecycle file) is newer than a queue still saying RUNNING: the
  // badge must not step back. A requeue shows as PENDING and an end as its final state, both taken as they come.
  job.state = job.state === 'COMPLETING' && status.state === 'RUNNING' ? 'COMPLETING' : status.state;
  job.reason = status.reason;
  job.exitCode = status.exitCode ?? job.exitCode;
  job.signal = status.signal;
  job.nodeList = status.nodeList ?? job.nodeList;
  job.startedAt = slurmTime(status.startedAt) ?? job.startedAt;
  job.endedAt = TERMINAL_STATES.has(status.state) ? (slurmTime(status.endedAt) ?? job.endedAt ?? new Date()) : null;
  job.elapsedSeconds = status.elapsedSeconds ?? job.elapsedSeconds;
  job.lastSeenAt = new Date();
  job.updatedAt = new Date();
}

export function snapshot(job: Job): JobSnapshot {
  return wrap(job).toPOJO() as JobSnapshot;
}
