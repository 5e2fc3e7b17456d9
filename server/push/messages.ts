// What a push says: a job's end, a sweep's end, a job or sweep still pending, a long-waiting job started, a metric
// gone NaN, idle GPUs, a cluster whose login expired; short enough for a lock screen.
import type { ConnectionHelp } from '../config.js';
import type { Job, Sweep, SweepCounts } from '../db/entities.js';
import type { JobSnapshot, SweepSnapshot } from '../events.js';
import type { JobState } from '../slurm/state.js';
import { sweepState, type SweepState } from '../sweeps/state.js';
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

/** A sweep's varying keys as a title: `seed × model`; a dotted key by its last part unless two keys share it. */
function varyingLabel(varying: readonly string[]): string {
  const MAX_KEYS = 3;
  const last = (key: string) => key.split('.').at(-1)!;
  const short = varying.map((key) => (varying.filter((other) => last(other) === last(key)).length === 1 ? last(key) : key));
  const shown = short.slice(0, MAX_KEYS).join(' × ');
  return short.length > MAX_KEYS ? `${shown} × ${short.length - MAX_KEYS} more` : shown;
}

const sweepTitle = (sweep: Pick<SweepSnapshot, 'name' | 'varying'>) => (sweep.varying.length > 0 ? `${sweep.name} · ${varyingLabel(sweep.varying)}` : sweep.name);

// Counted tasks, each word reading after a number ("2 cancelled"), in the order a person scans for trouble after
// the good news; a state missing here (never expected at an end) is shown by its name.
const TASKS_ENDED_AS: Array<[JobState, string, string?]> = [
  ['COMPLETED', 'completed'],
  ['FAILED', 'failed'],
  ['TIMEOUT', 'timed out'],
  ['OUT_OF_MEMORY', 'out of memory'],
  ['NODE_FAIL', 'node failure', 'node failures'],
  ['PREEMPTED', 'preempted'],
  ['CANCELLED', 'cancelled'],
  ['SUBMIT_FAILED', 'not submitted'],
];

export function countsInWords(counts: SweepCounts): string {
  const named = new Set(TASKS_ENDED_AS.map(([state]) => state));
  const words = TASKS_ENDED_AS.filter(([state]) => counts[state]).map(([state, one, many = one]) => `${counts[state]} ${counts[state] === 1 ? one : many}`);
  for (const [state, count] of Object.entries(counts) as Array<[JobState, number]>) if (count && !named.has(state)) words.push(`${count} ${state}`);
  return words.join(', ');
}

/** "41 min", "2 h 5 min", "3 d 4 h": a lock screen needs the order of magnitude, not the seconds. */
export function durationInWords(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${Math.floor(hours / 24)} d`;
}

// A sweep with a failed task never reads as completed: the words follow sweepState, which says so.
const SWEEP_ENDED_AS: Partial<Record<SweepState, string>> = {
  COMPLETED: 'completed',
  COMPLETED_WITH_FAILURES: 'ended with failures',
  FAILED: 'failed',
  CANCELLED: 'was cancelled',
};

/**
 * The one notice of a sweep's end: the counts by state in words and how long it took from its launch.
 * `submitError`: sbatch's refusal when no task could be submitted at all, which is then the news.
 */
export function sweepEndMessage(sweep: SweepSnapshot, submitError: string | null): PushMessage {
  const state = sweepState(sweep.counts);
  const notSubmitted = state === 'FAILED' && Object.keys(sweep.counts).every((key) => key === 'SUBMIT_FAILED');
  const took = durationInWords(new Date(sweep.endedAt!).getTime() - new Date(sweep.createdAt).getTime());
  return {
    title: `${sweepTitle(sweep)} ${notSubmitted ? 'could not be submitted' : (SWEEP_ENDED_AS[state] ?? state)}`,
    body: `${notSubmitted ? sbatchRefusal(submitError) : `${countsInWords(sweep.counts)}, ${took}`} · ${sweep.cluster}`,
    url: `/sweeps/${sweep.id}`,
    tag: `sweep-${sweep.id}`,
    sweepId: sweep.id,
    state,
    cluster: sweep.cluster,
  };
}

export function sweepPendingMessage(sweep: Pick<SweepSnapshot, 'id' | 'name' | 'varying' | 'cluster' | 'size'>, minutes: number, reason: string | null): PushMessage {
  return {
    title: `${sweepTitle(sweep)} still pending`,
    body: `None of its ${sweep.size} tasks has started after ${minutes} min on ${sweep.cluster}${reason ? ` (${reason})` : ''}`,
    url: `/sweeps/${sweep.id}`,
    tag: `sweep-${sweep.id}`,
    sweepId: sweep.id,
    state: 'PENDING',
    cluster: sweep.cluster,
  };
}

function sbatchRefusal(submitError: string | null | undefined): string {
  const said = submitError?.split('\n')[0]!.trim();
  if (!said) return 'sbatch refused the job';
  return clip(said.startsWith('sbatch') ? said : `sbatch: ${said}`);
}

/** How the job ended, in the words a person looks for: the exit code, or the kind of failure. */
function outcomeOf(job: JobSnapshot): string {
  if (job.state === 'SUBMIT_FAILED') return sbatchRefusal(job.submitError);
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

/** A task's values of its sweep's varying keys (`seed=2`, `model=vit`): what tells it apart from the other tasks. */
export function sweepTaskValues(sweep: Pick<Sweep, 'runs' | 'varying'>, arrayIndex: number): string[] {
  return (sweep.runs[arrayIndex]?.overrides ?? []).filter((override) => sweep.varying.some((key) => override.startsWith(`${key}=`)));
}

/** A task by its sweep values, since every task has the sweep's name; by its index when nothing varies. */
const taskName = (job: Pick<Job, 'arrayIndex'>, values: readonly string[]) => (values.length > 0 ? values.join(', ') : `task ${job.arrayIndex}`);

/**
 * A failed task of a sweep, for the devices that asked for each. `last`: no more such pushes for this sweep, which
 * the phone should know.
 */
export function taskFailedMessage(job: JobSnapshot, values: readonly string[], logLine: string | null, last: boolean): PushMessage {
  const message = jobEndMessage(job, logLine);
  return {
    ...message,
    title: `${job.name} ${taskName(job, values)} ${ENDED_AS[job.state] ?? job.state}`,
    body: last ? `${message.body}\nFurther failed tasks of this sweep are told only when it ends.` : message.body,
    sweepId: job.sweepId!,
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

/**
 * The cluster's own connection help in one line, for a lock screen: its VPN command, else the first line of its
 * steps (the card shows all of it). Put before the login command, which fails while the VPN is down.
 */
function connectionHelpLine(help: ConnectionHelp | null | undefined): string | null {
  if (help?.vpn) return `Connect the VPN first: ${clip(help.vpn)}`;
  const step = help?.steps?.split('\n').map((line) => line.trim()).find(Boolean);
  return step ? clip(step) : null;
}

/** A job (or a sweep's first task) that waited long in the queue has started: what the device asked to hear. */
export function jobStartedMessage(job: Pick<JobSnapshot, 'id' | 'name' | 'cluster' | 'nodeList'>, waitedMs: number, sweep?: Pick<SweepSnapshot, 'id' | 'name' | 'varying' | 'size'>): PushMessage {
  const where = `${job.cluster}${job.nodeList ? ` · ${job.nodeList}` : ''}`;
  return {
    title: sweep ? `${sweepTitle(sweep)} started` : `${job.name} started`,
    body: `${sweep ? `Its first task (job ${job.id}) started` : `Job ${job.id} started`} after waiting ${durationInWords(waitedMs)} · ${where}`,
    url: sweep ? `/sweeps/${sweep.id}` : `/jobs/${job.id}`,
    tag: sweep ? `sweep-${sweep.id}` : `job-${job.id}`,
    jobId: job.id,
    ...(sweep ? { sweepId: sweep.id } : {}),
    state: 'RUNNING',
    cluster: job.cluster,
  };
}

export function reauthMessage(cluster: string, command: string, help?: ConnectionHelp | null): PushMessage {
  const first = connectionHelpLine(help);
  return {
    title: `${cluster} needs you to log in again`,
    body: first ? `${first}\nThen run in a terminal on the server's machine: ${command}` : `Run in a terminal on the server's machine: ${command}`,
    url: '/clusters',
    tag: `reauth-${cluster}`,
    cluster,
  };
}

/** A sweep's task that a notice is about, and how many of the sweep's tasks are in the same trouble so far. */
export interface TaskContext {
  sweep: Pick<SweepSnapshot, 'id' | 'name' | 'varying'>;
  values: readonly string[];
  count: number;
  of: number;
  /** What the `of` tasks are: "tasks", "running tasks". */
  tasks: string;
}

/** A metric's first value of the NaN or infinite run it ends in. */
export interface NonFinitePoint {
  name: string;
  step: number;
  value: number;
}

/** "1,200": steps as people read them (an epoch of 2.5 keeps its fraction). */
export const stepInWords = (step: number) => step.toLocaleString('en-US', { maximumFractionDigits: 3 });

// The API's own spelling of the value, so the push reads like the chart's tooltip.
const nonFiniteWord = (value: number) => (Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity');

const alsoLine = (others: NonFinitePoint[]) => (others.length > 0 ? `\nAlso ${others.map((point) => `${point.name} (${nonFiniteWord(point.value)} at step ${stepInWords(point.step)})`).join(', ')}` : '');

/**
 * A running job's metrics that became NaN or infinite (all those found at once: a diverged run does it to several of
 * its metrics in the same second, and one push says so). Opens the job, whose chart shows where.
 */
export function metricNanMessage(job: Pick<Job, 'id' | 'name' | 'cluster' | 'arrayIndex'>, points: readonly NonFinitePoint[], task?: TaskContext): PushMessage {
  const [first, ...others] = points as [NonFinitePoint, ...NonFinitePoint[]];
  const what = `${first.name} is ${nonFiniteWord(first.value)}`;
  const at = `at step ${stepInWords(first.step)}`;
  return runningJobNotice(
    job,
    task,
    task ? `${sweepTitle(task.sweep)}: ${what}` : `job ${job.id}: ${what} ${at}`,
    `${task ? `${taskName(job, task.values)} (job ${job.id}) ${at}; ${task.count} of ${task.of} ${task.tasks} so far` : job.name} · ${job.cluster}${alsoLine(others)}`,
  );
}

/** A notice about a running job (or a sweep's task), opening the job. */
function runningJobNotice(job: Pick<Job, 'id' | 'cluster'>, task: TaskContext | undefined, title: string, body: string): PushMessage {
  return { title, body, url: `/jobs/${job.id}`, tag: `job-${job.id}`, jobId: job.id, ...(task ? { sweepId: task.sweep.id } : {}), state: 'RUNNING', cluster: job.cluster };
}

/** A running job whose every GPU sat under `percent` % for `windowMs`. */
export function gpuIdleMessage(job: Pick<Job, 'id' | 'name' | 'cluster' | 'arrayIndex'>, gpus: number, percent: number, windowMs: number, task?: TaskContext): PushMessage {
  const its = gpus === 1 ? 'its GPU' : `its ${gpus} GPUs`;
  const how = `under ${percent} %${gpus === 1 ? '' : ' on every one'} for ${durationInWords(windowMs)}`;
  return runningJobNotice(
    job,
    task,
    task ? `${sweepTitle(task.sweep)}: ${taskName(job, task.values)} is not using ${its}` : `job ${job.id} is not using ${its}`,
    `${task ? `job ${job.id}: ${how}; ${task.count} of ${task.of} ${task.tasks} so far` : `${job.name}: ${how}`} · ${job.cluster}`,
  );
}

/** "Job 42 requeued at its time limit (1 of 3)": a run ended and the job waits for its next one, same SLURM id. */
export function jobRequeuedMessage(job: Pick<JobSnapshot, 'id' | 'name' | 'cluster' | 'restarts' | 'requeues' | 'input'>): PushMessage {
  const cause = job.requeues.at(-1)?.cause === 'time-limit' ? ' at its time limit' : '';
  const maxRestarts = job.input.resume?.maxRestarts;
  const count = maxRestarts ? `${job.restarts} of ${maxRestarts}` : `restart ${job.restarts}`;
  return {
    title: `${job.name} requeued`,
    body: `Job ${job.id} requeued${cause} (${count}) · ${job.cluster}`,
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: 'PENDING',
    cluster: job.cluster,
  };
}

/** "job 42 reaches its time limit in 15 min": a running job without resume, while there is time to save its work. */
export function timeLimitMessage(job: Pick<Job, 'id' | 'name' | 'cluster'>, minutes: number): PushMessage {
  return {
    title: `job ${job.id} reaches its time limit in ${minutes} min`,
    body: `${job.name} · ${job.cluster} · SLURM ends it then`,
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: 'RUNNING',
    cluster: job.cluster,
  };
}
