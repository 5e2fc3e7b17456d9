// The job screen's state timeline: submitted → pending (why) → running (where) → ended (how), from the job's fields.
import type { JobSummary } from '../api/jobs';
import { duration, secondsBetween, stateLabel } from './format';

export type StepStatus = 'done' | 'current' | 'upcoming' | 'failed' | 'skipped';

export interface TimelineStep {
  key: 'submitted' | 'requeued' | 'pending' | 'running' | 'ended';
  title: string;
  detail: string | null;
  at: string | null;
  status: StepStatus;
}

type TimelineJob = Pick<JobSummary, 'state' | 'createdAt' | 'submittedAt' | 'startedAt' | 'endedAt' | 'reason' | 'nodeList' | 'exitCode' | 'signal' | 'submitError' | 'slurmState'> & {
  slurmJobId?: string | null;
  /** Runs that ended with the job back in the queue (same SLURM id), oldest first. */
  requeues?: ReadonlyArray<{ at: string; runStartedAt: string | null; cause: 'TIME_LIMIT' | null }> | null;
  input?: { resume?: { maxRestarts: number } | null } | null;
};

/** "Requeued at its time limit (1 of 3)": each earlier run, before the current one's wait and run. */
function requeueSteps(job: TimelineJob): TimelineStep[] {
  const maxRestarts = job.input?.resume?.maxRestarts;
  return (job.requeues ?? []).map((requeue, index) => ({
    key: 'requeued',
    title: `Requeued${requeue.cause === 'TIME_LIMIT' ? ' at its time limit' : ''}${maxRestarts ? ` (${index + 1} of ${maxRestarts})` : ''}`,
    detail: requeue.runStartedAt ? `after running ${duration(secondsBetween(requeue.runStartedAt, requeue.at))}` : null,
    at: requeue.at,
    status: 'done',
  }));
}

const FAILURE_DETAIL: Partial<Record<JobSummary['state'], string>> = {
  TIMEOUT: 'reached its time limit',
  OUT_OF_MEMORY: 'ran out of memory',
  NODE_FAIL: 'a node it ran on failed',
  PREEMPTED: 'preempted by a higher-priority job',
  UNKNOWN: 'SLURM no longer knows the job: its outcome is unknown',
};

function endDetail(job: TimelineJob): string | null {
  const parts: string[] = [];
  if (job.exitCode !== null && job.exitCode !== undefined) parts.push(`exit code ${job.exitCode}`);
  if (job.signal) parts.push(`signal ${job.signal}`);
  const failure = FAILURE_DETAIL[job.state];
  if (failure) parts.push(failure);
  if (job.state === 'CANCELLED' && job.slurmState && job.slurmState !== 'CANCELLED') parts.push(job.slurmState.toLowerCase());
  return parts.length ? parts.join(' · ') : null;
}

export function jobTimeline(job: TimelineJob, now = Date.now()): TimelineStep[] {
  const submitted: TimelineStep = {
    key: 'submitted',
    title: 'Submitted',
    detail: job.slurmJobId ? `SLURM job ${job.slurmJobId}` : null,
    at: job.submittedAt ?? job.createdAt,
    status: 'done',
  };
  if (job.state === 'SUBMITTING') return [{ ...submitted, title: 'Submitting', detail: 'waiting for sbatch to answer', status: 'current' }];
  if (job.state === 'SUBMIT_FAILED') return [{ ...submitted, title: 'Submit failed', detail: job.submitError ?? 'SLURM refused the job', status: 'failed' }];

  const started = job.startedAt !== null;
  const ended = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'UNKNOWN'].includes(job.state);
  const pending: TimelineStep = {
    key: 'pending',
    title: 'Pending',
    at: job.submittedAt ?? job.createdAt,
    detail: null,
    status: 'done',
  };
  if (job.state === 'PENDING') {
    pending.status = 'current';
    pending.detail = job.reason ? `waiting: ${job.reason}` : 'waiting for resources';
  } else if (started) {
    pending.detail = `waited ${duration(secondsBetween(job.submittedAt ?? job.createdAt, job.startedAt))}`;
  } else if (ended) {
    pending.detail = job.reason ? `never started: ${job.reason}` : 'never started';
  }

  const where = job.nodeList ? ` on ${job.nodeList}` : '';
  const running: TimelineStep = { key: 'running', title: `Running${where}`, at: job.startedAt, detail: null, status: 'upcoming' };
  if (job.state === 'RUNNING') {
    running.status = 'current';
    running.detail = `for ${duration(secondsBetween(job.startedAt, now))}`;
  } else if (started) {
    running.status = 'done';
    running.title = `Ran${where}`;
    running.detail = `for ${duration(secondsBetween(job.startedAt, job.endedAt ?? now))}`;
  } else if (ended) {
    running.status = 'skipped';
    running.title = 'Did not run';
  } else {
    running.title = 'Running';
  }

  const end: TimelineStep = { key: 'ended', title: 'Ends', at: job.endedAt, detail: null, status: 'upcoming' };
  if (job.state === 'COMPLETING') {
    end.title = 'Completing';
    end.status = 'current';
  } else if (ended) {
    end.title = stateLabel(job.state);
    end.status = job.state === 'COMPLETED' ? 'done' : 'failed';
    end.detail = endDetail(job);
  }
  return [submitted, ...requeueSteps(job), pending, running, end];
}
