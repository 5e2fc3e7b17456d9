// The one owner of a job's state: every change of `state` is one of the named transitions below (nothing else in the
// server assigns it), and every change is saved before it is announced (saveAndAnnounce), so a subscriber or the
// notifier that reads the database when told finds what it was told. SLURM's raw state and reason are kept beside
// the normalized state; a job SLURM no longer knows is UNKNOWN, never completed.
import { wrap, type EntityManager, type RequiredEntityData } from '@mikro-orm/knex';
import { Job, type JobRequeue } from '../db/entities.js';
import type { JobSnapshot, PubSub } from '../events.js';
import { TERMINAL_STATES, type SlurmJobStatus } from '../slurm/state.js';
import { componentLogger } from '../lib/log.js';

const log = componentLogger('jobs');

// The states the API shows and SLURM's own view of a job, as the jobs domain hands them to schema/ (which never
// reaches into slurm/). They are defined beside the normalization from SLURM's words, which the database stores too.
export { JOB_STATES, type JobState, type SlurmJobStatus } from '../slurm/state.js';

/** SLURM prints its cluster's local time without a zone; read as this server's local time (same zone assumed). */
export function slurmTime(text: string | null): Date | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * SLURM's expected start of a pending job, or null. A running job without a time limit is given an end a year after
 * its start (slurmctld's stand-in for "never"), so an estimate that far ahead says only "after a job with no time
 * limit": it is no estimate, and none is shown.
 */
export function expectedStart(text: string | null, now = new Date()): Date | null {
  return forecast(text, now);
}

/** A running job's end at its time limit; a job without one reads a year ahead on some sites: none. */
export function timeLimitReachedAt(text: string | null, now = new Date()): Date | null {
  return forecast(text, now);
}

function forecast(text: string | null, now: Date): Date | null {
  const at = slurmTime(text);
  return at && at.getTime() - now.getTime() < NO_TIME_LIMIT_HORIZON_MS ? at : null;
}

/** Half a year: no site's partition time limit is longer; slurmctld's "never" is a year. */
const NO_TIME_LIMIT_HORIZON_MS = 182 * 24 * 3600_000;

const VISIBLE_FIELDS = ['state', 'slurmState', 'reason', 'exitCode', 'signal', 'nodeList', 'startedAt', 'endedAt', 'estimatedStartAt', 'slurmJobId', 'submitError', 'archived', 'wandbUrl', 'restarts'] as const;

/** The fields a person sees change; elapsed time and lastSeenAt tick on every poll and are not news. */
export function visibleState(job: Job): string {
  return JSON.stringify(VISIBLE_FIELDS.map((field) => job[field] instanceof Date ? (job[field] as Date).getTime() : job[field]));
}

export function snapshot(job: Job): JobSnapshot {
  return wrap(job).toPOJO() as JobSnapshot;
}

/** A job and what a person saw of it before a change (null: a new job, always news). */
export interface Change {
  job: Job;
  before: string | null;
  /** The job's state before, for the log line of a state change (undefined: a new job). */
  state?: Job['state'];
}

export const changeOf = (job: Job): Change => ({ job, before: visibleState(job), state: job.state });

/**
 * Saves, then tells subscribers about each job whose visible state changed; the number of jobs announced. A failed
 * save announces nothing: a subscriber is never told of a state the database does not hold.
 */
export async function saveAndAnnounce(em: EntityManager, events: PubSub, changes: Iterable<Change>): Promise<number> {
  await em.flush();
  let announced = 0;
  for (const { job, before, state } of changes) {
    if (visibleState(job) === before) continue;
    if (job.state !== state) log.info({ jobId: job.id, cluster: job.cluster, slurmJobId: job.slurmJobId, from: state ?? null, to: job.state }, 'job state changed');
    events.publish('job:updated', snapshot(job));
    announced++;
  }
  return announced;
}

/** saveAndAnnounce for one job; answers the job. */
export async function saveAndAnnounceJob(em: EntityManager, events: PubSub, change: Change): Promise<Job> {
  await saveAndAnnounce(em, events, [change]);
  return change.job;
}

/** What a launch is made of; the rest (state, times, archived) is set by launchStored. */
export type LaunchFields = Omit<RequiredEntityData<Job>, 'state' | 'archived' | 'createdAt' | 'updatedAt'>;

/** → SUBMITTING: the launch is stored before sbatch runs, so a launch whose answer is lost can be looked up by its tag. */
export function launchStored(em: EntityManager, fields: LaunchFields): Job {
  const now = new Date();
  return em.create(Job, { ...fields, state: 'SUBMITTING', archived: false, createdAt: now, updatedAt: now } as RequiredEntityData<Job>);
}

/** SUBMITTING → PENDING: sbatch answered with the job's id. */
export function submitted(job: Job, slurmJobId: string): void {
  job.slurmJobId = slurmJobId;
  job.state = 'PENDING';
  job.submittedAt = new Date();
  job.submitError = null;
  job.updatedAt = new Date();
}

/** SUBMITTING → SUBMIT_FAILED: sbatch refused the job, or SLURM has no job from this launch. */
export function submitFailed(job: Job, reason: string): void {
  job.state = 'SUBMIT_FAILED';
  job.submitError = reason;
  job.endedAt = new Date();
  job.updatedAt = new Date();
}

/** Stays SUBMITTING: the connection failed while sbatch ran, so SLURM may or may not have the job. */
export function submitUnanswered(job: Job, reason: string): void {
  job.submitError = reason;
}

/** SUBMITTING → PENDING: a launch whose sbatch answer was lost, found in SLURM by its tag (work directory). */
export function adopted(job: Job, slurmJobId: string): void {
  job.slurmJobId = slurmJobId;
  job.submitError = null;
  if (job.state === 'SUBMITTING') job.state = 'PENDING';
  job.submittedAt ??= new Date();
  job.updatedAt = new Date();
}

/** PENDING (or SUBMITTING) → RUNNING: the job's script wrote its start (lifecycle file), before the queue says so. */
export function started(job: Job, at: Date, host: string | null): void {
  if (job.state !== 'PENDING' && job.state !== 'SUBMITTING') return;
  job.state = 'RUNNING';
  job.reason = null;
  job.estimatedStartAt = null;
  job.startedAt ??= at;
  job.nodeList ??= host;
  job.updatedAt = new Date();
}

/**
 * → COMPLETING: the job's script wrote its end and exit code. Only SLURM may call the job finished (OOM, node
 * failure, timeout and cancellation are things a script cannot report): reportedBySlurm confirms it.
 */
export function scriptEnded(job: Job, exitCode: number | null): void {
  if (TERMINAL_STATES.has(job.state) || job.state === 'COMPLETING') return;
  job.state = 'COMPLETING';
  if (exitCode !== null) job.exitCode = exitCode;
  job.updatedAt = new Date();
}

/**
 * → what SLURM says (the queue, or accounting once the job ended): started, ended (confirmed with its exit code),
 * requeued (back to PENDING, even after the script reported its end). The job's own end record (COMPLETING) is
 * newer than a queue still saying RUNNING: the badge must not step back.
 * A requeue keeps the SLURM id: a job that had started and is PENDING again, or RUNNING with a later start than the
 * run we knew, was put back in the queue (scontrol requeue: its own script, preemption, an admin); that run is
 * recorded once (requeued) and the job goes on as the next run, never through a final state.
 */
export function reportedBySlurm(job: Job, status: SlurmJobStatus): void {
  const slurmStart = slurmTime(status.startedAt);
  const runEnded =
    job.startedAt !== null &&
    job.startedAt !== undefined &&
    ((status.state === 'PENDING' && (job.state === 'RUNNING' || job.state === 'COMPLETING')) ||
      (status.state === 'RUNNING' && slurmStart !== null && slurmStart.getTime() - job.startedAt.getTime() > NEW_RUN_MARGIN_MS));
  if (runEnded) requeued(job, new Date(), null);
  job.slurmState = status.rawState;
  job.state = job.state === 'COMPLETING' && status.state === 'RUNNING' ? 'COMPLETING' : status.state;
  job.reason = status.reason;
  job.exitCode = status.exitCode ?? job.exitCode;
  job.signal = status.signal;
  job.nodeList = status.nodeList ?? job.nodeList;
  job.startedAt = slurmStart ?? job.startedAt;
  job.endedAt = TERMINAL_STATES.has(status.state) ? (slurmTime(status.endedAt) ?? job.endedAt ?? new Date()) : null;
  job.elapsedSeconds = status.elapsedSeconds ?? job.elapsedSeconds;
  job.estimatedStartAt = status.state === 'PENDING' ? expectedStart(status.expectedStartAt) : null;
  job.timeLimitAt = status.state === 'RUNNING' ? timeLimitReachedAt(status.timeLimitAt) : null;
  job.lastSeenAt = new Date();
  job.updatedAt = new Date();
}

/**
 * SLURM's start of a run is the allocation; the job script's own start record comes a moment later. A start this
 * much later than the one known is another run.
 */
const NEW_RUN_MARGIN_MS = 5_000;

/** The latest requeue of the job, if any. */
export function lastRequeue(job: Pick<Job, 'requeues'>): JobRequeue | null {
  return job.requeues?.at(-1) ?? null;
}

/**
 * True when the run that is current ended (or is about to end) in a requeue already recorded: its script's end
 * record is the end of that run, not of the job.
 */
export function currentRunRequeued(job: Job): boolean {
  const last = lastRequeue(job);
  // By time, not by the start recorded: a poll may still correct the start (SLURM's allocation before the script's own).
  return last !== null && job.startedAt !== null && job.startedAt !== undefined && Date.parse(last.at) >= job.startedAt.getTime();
}

/**
 * A run ended with the job back in the queue: counted once per run (the script's own word and the queue's may both
 * tell it), and the job is made ready for its next run: no start, no exit code of the run that was cut off.
 * Stays in its state: only SLURM moves it (PENDING, then RUNNING again).
 */
export function requeued(job: Job, at: Date, cause: JobRequeue['cause']): void {
  if (TERMINAL_STATES.has(job.state)) return;
  if (!currentRunRequeued(job)) {
    job.requeues = [...(job.requeues ?? []), { at: at.toISOString(), runStartedAt: job.startedAt?.toISOString() ?? null, cause }];
    job.restarts = (job.restarts ?? 0) + 1;
    job.updatedAt = new Date();
  }
  // Its script requeued it and SLURM has not yet taken it back: the run is still on, its end record comes next.
  if (cause === 'time-limit' && (job.state === 'RUNNING' || job.state === 'COMPLETING')) return;
  job.startedAt = null;
  job.exitCode = null;
  job.signal = null;
  job.endedAt = null;
  if (job.state === 'COMPLETING') job.state = 'RUNNING';
}

/** → UNKNOWN: neither the queue nor accounting knows a job that had not ended; never a guessed outcome. */
export function lost(job: Job): void {
  if (TERMINAL_STATES.has(job.state) || job.state === 'UNKNOWN' || job.state === 'SUBMITTING') return;
  job.state = 'UNKNOWN';
  job.updatedAt = new Date();
}
