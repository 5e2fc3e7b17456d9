// What a push says: a job's end, a job still pending, a cluster whose login expired; short enough for a lock screen.
import type { Job } from '../db/entities.js';
import type { JobSnapshot } from '../events.js';
import type { JobState } from '../slurm/state.js';
import type { PushMessage } from './web-push.js';

const MAX_LINE = 200;

const ENDED_AS: Partial<Record<JobState, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'was cancelled',
  TIMEOUT: 'timed out',
  OUT_OF_MEMORY: 'ran out of memory',
  NODE_FAIL: 'lost its node',
  PREEMPTED: 'was preempted',
  SUBMIT_FAILED: 'could not be submitted',
};

const clip = (text: string, length = MAX_LINE) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

export function lastLogLine(text: string): string | null {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const last = lines.at(-1);
  return last === undefined ? null : clip(last);
}

/** How the job ended, in the words a person looks for: the exit code, or the kind of failure. */
function outcomeOf(job: JobSnapshot): string {
  if (job.state === 'SUBMIT_FAILED') {
    const said = job.submitError?.split('\n')[0]!.trim();
    if (!said) return 'sbatch refused the job';
    return clip(said.startsWith('sbatch') ? said : `sbatch: ${said}`);
  }
  const exit = job.exitCode == null ? null : `exit code ${job.exitCode}${job.signal ? `, signal ${job.signal}` : ''}`;
  if ((job.state === 'COMPLETED' || job.state === 'FAILED') && exit) return exit.charAt(0).toUpperCase() + exit.slice(1);
  // SLURM's own words say more when it has them ("CANCELLED by 1001").
  const kind = job.slurmState?.toUpperCase().startsWith(job.state) ? job.slurmState : job.state;
  return exit && job.state !== 'CANCELLED' ? `${kind} (${exit})` : kind;
}

export function jobEndMessage(job: JobSnapshot, logLine: string | null): PushMessage {
  return {
    title: `${job.name} ${ENDED_AS[job.state] ?? job.state}`,
    body: [`${outcomeOf(job)} · ${job.cluster}`, logLine].filter(Boolean).join('\n'),
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: job.state,
    cluster: job.cluster,
  };
}

export function jobPendingMessage(job: Job, minutes: number): PushMessage {
  return {
    title: `${job.name} still pending`,
    body: `Waiting for ${minutes} min on ${job.cluster}${job.reason ? ` (${job.reason})` : ''}`,
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: 'PENDING',
    cluster: job.cluster,
  };
}

export function reauthMessage(cluster: string, command: string): PushMessage {
  return {
    title: `${cluster} needs you to log in again`,
    body: `Run in a terminal on the server's machine: ${command}`,
    url: '/clusters',
    tag: `reauth-${cluster}`,
    cluster,
  };
}
