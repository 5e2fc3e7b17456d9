// Job state from SLURM's three views of a job: squeue (controller, until purge), sacct (accounting, forever)
// and scontrol (controller; the only per-job view when accounting is off). Pure parsers: text in, typed value out.
//
// What SLURM prints when it does not know something (all seen on Slurm 22.05.8, see test/fixtures/slurm/):
// - times: "Unknown" (sacct, scontrol), "None" (sacct Start of a job cancelled while pending), "N/A" and "NONE"
//   (squeue %S/%e of pending jobs), "" (squeue), "(null)";
// - node list: "" (squeue), "None assigned" (sacct), "(null)" (scontrol);
// - reason: "None"; exit code: "0:0" until the job has ended.
// Some values that look known are forecasts, and are read as not known:
// - a pending job's start (squeue/scontrol print the scheduler's estimate, a year ahead for jobs without a
//   time limit) and a running job's end (start + time limit); they are kept apart, as expectedStartAt and timeLimitAt;
// - the start of a job that never got nodes: a job cancelled while pending reads StartTime = the cancel time.
import { SlurmError } from '../errors.js';

export const JOB_STATES = [
  'SUBMITTING',
  'SUBMIT_FAILED',
  'PENDING',
  'RUNNING',
  'COMPLETING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'UNKNOWN',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'SUBMIT_FAILED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
]);

export interface SlurmJobStatus {
  /** As SLURM prints it: "123", "123_4" for an array task, "123_[5-9%2]" for an array's pending rest. */
  slurmJobId: string;
  /** Exactly as SLURM printed it, e.g. "CANCELLED by 1001". */
  rawState: string;
  state: JobState;
  reason: string | null;
  exitCode: number | null;
  signal: number | null;
  nodeList: string | null;
  /** SLURM's local time text ("2026-11-23T19:54:16"); only the caller knows the cluster's time zone. */
  startedAt: string | null;
  endedAt: string | null;
  /**
   * A pending job's start as the scheduler expects it (squeue %S, scontrol StartTime: the same value `squeue --start`
   * prints): the backfill scheduler's estimate, or the --begin time; null when SLURM gives none ("N/A", "Unknown").
   */
  expectedStartAt: string | null;
  /**
   * A running job's end at its time limit, as SLURM computes it (squeue %e, scontrol EndTime: its start plus its time
   * limit, the partition's DefaultTime when the launch gave none); null when not running or without a limit ("NONE").
   */
  timeLimitAt: string | null;
  elapsedSeconds: number | null;
  workDir: string | null;
}

/** For `squeue -h -t all -o SQUEUE_FORMAT`: `-t all` keeps finished jobs until they are purged. */
export const SQUEUE_FORMAT = '%i|%T|%r|%N|%S|%e|%M|%Z';
/** For `sacct -X -n -P -o SACCT_FIELDS -j ids`. */
export const SACCT_FIELDS = 'JobID,State,Reason,ExitCode,Start,End,Elapsed,NodeList,WorkDir';

/**
 * Input that is clearly not the expected format, where returning "no jobs" would mislead the caller. A SlurmError,
 * so that a command passing it on reaches the user as what it is rather than as a masked internal error.
 */
export class SlurmParseError extends SlurmError {
  constructor(command: string, detail: string) {
    super(command, null, detail);
  }
}

// Every state name job_state_string() can print, long and compact (squeue %t), onto the normalized set.
// SLURM's extra states are placed by what they mean for the job's owner; rawState keeps the exact word.
const STATE_BY_NAME: ReadonlyMap<string, JobState> = new Map<string, JobState>([
  ['PENDING', 'PENDING'],
  ['PD', 'PENDING'],
  ['RUNNING', 'RUNNING'],
  ['R', 'RUNNING'],
  ['COMPLETING', 'COMPLETING'],
  ['CG', 'COMPLETING'],
  ['COMPLETED', 'COMPLETED'],
  ['CD', 'COMPLETED'],
  ['FAILED', 'FAILED'],
  ['F', 'FAILED'],
  ['CANCELLED', 'CANCELLED'],
  ['CA', 'CANCELLED'],
  ['TIMEOUT', 'TIMEOUT'],
  ['TO', 'TIMEOUT'],
  ['OUT_OF_MEMORY', 'OUT_OF_MEMORY'],
  ['OOM', 'OUT_OF_MEMORY'],
  ['NODE_FAIL', 'NODE_FAIL'],
  ['NF', 'NODE_FAIL'],
  ['PREEMPTED', 'PREEMPTED'],
  ['PR', 'PREEMPTED'],
  // Ended because its nodes never came up: a hardware failure like NODE_FAIL, not the user's code.
  ['BOOT_FAIL', 'NODE_FAIL'],
  ['BF', 'NODE_FAIL'],
  // Killed at its --deadline: a time limit.
  ['DEADLINE', 'TIMEOUT'],
  ['DL', 'TIMEOUT'],
  // Back in the queue, or held there, and will (or may) run again.
  ['REQUEUED', 'PENDING'],
  ['RQ', 'PENDING'],
  ['REQUEUE_FED', 'PENDING'],
  ['RF', 'PENDING'],
  ['REQUEUE_HOLD', 'PENDING'],
  ['RH', 'PENDING'],
  ['SPECIAL_EXIT', 'PENDING'],
  ['SE', 'PENDING'],
  ['RESV_DEL_HOLD', 'PENDING'],
  ['RD', 'PENDING'],
  // Holds its allocation: nodes booting (CONFIGURING), resized, being signalled, or paused (SUSPENDED, STOPPED).
  ['CONFIGURING', 'RUNNING'],
  ['CF', 'RUNNING'],
  ['RESIZING', 'RUNNING'],
  ['RS', 'RUNNING'],
  ['SIGNALING', 'RUNNING'],
  ['SI', 'RUNNING'],
  ['SUSPENDED', 'RUNNING'],
  ['S', 'RUNNING'],
  ['STOPPED', 'RUNNING'],
  ['ST', 'RUNNING'],
  // Its script has ended; burst-buffer data is still being staged out.
  ['STAGE_OUT', 'COMPLETING'],
  ['SO', 'COMPLETING'],
  // REVOKED (federation: the job started on a sibling cluster) has no honest place here and stays UNKNOWN.
]);

const LONG_STATE_NAMES = [...STATE_BY_NAME.keys()].filter((name) => name.length > 3);

/** SLURM's own words for a job that has ended (long and compact), read off TERMINAL_STATES: remote scripts get them as arguments. */
export const FINAL_SLURM_STATE_NAMES: readonly string[] = [...STATE_BY_NAME].filter(([, state]) => TERMINAL_STATES.has(state)).map(([name]) => name);

/** SLURM's raw state text (squeue %T, sacct State incl. "CANCELLED by 1001", scontrol JobState) → normalized. Never maps an unknown state to COMPLETED: unknown → UNKNOWN. */
export function normalizeSlurmState(raw: string): JobState {
  const word = raw.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  const exact = STATE_BY_NAME.get(word);
  if (exact) return exact;
  // sacct without -P cuts a long word to its column and marks it with "+" ("OUT_OF_ME+"); trust only a prefix
  // that names one state, so "COMPLET+" (COMPLETED or COMPLETING?) stays UNKNOWN.
  if (word.length > 1 && word.endsWith('+')) {
    const prefix = word.slice(0, -1);
    const whole = STATE_BY_NAME.get(prefix);
    if (whole) return whole;
    const candidates = new Set(LONG_STATE_NAMES.filter((name) => name.startsWith(prefix)));
    const [only] = candidates;
    if (candidates.size === 1 && only !== undefined) return STATE_BY_NAME.get(only) ?? 'UNKNOWN';
  }
  return 'UNKNOWN';
}

export function parseSqueue(output: string): SlurmJobStatus[] {
  return parseDelimited(output, 'squeue', 8, ([id, rawState, reason, nodeList, start, end, elapsed, workDir]) =>
    toStatus({ id, rawState, reason, exitCode: undefined, start, end, elapsed, nodeList, workDir }),
  );
}

/** Ignores step lines ("7.batch", "7.extern", "7.0") even if -X was forgotten. */
export function parseSacct(output: string): SlurmJobStatus[] {
  if (isAccountingDisabledMessage(output)) throw new SlurmParseError('sacct', 'Slurm accounting storage is disabled');
  return parseDelimited(output, 'sacct', 9, ([id, rawState, reason, exitCode, start, end, elapsed, nodeList, workDir]) => {
    const status = toStatus({ id, rawState, reason, exitCode, start, end, elapsed, nodeList, workDir });
    // sacct's Reason is the job's last *pending* reason and outlives that phase (a COMPLETED array task
    // still reads "JobArrayTaskLimit"), so it only means something while the job waits.
    if (status.state !== 'PENDING') status.reason = null;
    return status;
  });
}

/** sacct on a cluster without slurmdbd; a command layer seeing this on stderr should fall back to scontrol. */
export function isAccountingDisabledMessage(text: string): boolean {
  return /accounting storage is disabled/i.test(text);
}

/**
 * `scontrol show job -o ID` (one line per job, or per array task) for clusters whose accounting is off. The
 * multi-line form (without -o) and several outputs concatenated are read too. Slurm 22.05 takes one id per call:
 * `scontrol show job -o 7,8` answers "Invalid job id specified".
 */
export function parseScontrolJobs(output: string): SlurmJobStatus[] {
  const records: string[] = [];
  let unreadable: string | null = null;
  for (const line of output.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    if (text.startsWith('JobId=')) records.push(text);
    else if (records.length > 0 && /^[A-Z][\w:/]*=/.test(text)) records[records.length - 1] += ` ${text}`;
    else if (!isDiagnostic(text)) unreadable ??= text;
  }
  const statuses: SlurmJobStatus[] = [];
  for (const record of records) {
    const fields = scontrolFields(record);
    const id = scontrolJobId(fields);
    const rawState = fields.get('JobState');
    if (id === null || rawState === undefined || rawState.trim() === '') {
      unreadable ??= record;
      continue;
    }
    statuses.push(
      toStatus({
        id,
        rawState,
        reason: fields.get('Reason'),
        exitCode: fields.get('ExitCode'),
        start: fields.get('StartTime'),
        end: fields.get('EndTime'),
        elapsed: fields.get('RunTime'),
        nodeList: fields.get('NodeList'),
        workDir: fields.get('WorkDir'),
      }),
    );
  }
  if (statuses.length === 0 && unreadable !== null) throw unreadableError('scontrol', unreadable);
  return statuses;
}

/** sbatch --parsable prints "16" or "16;clustername"; the plain "Submitted batch job 16" is read as well. */
export function parseSbatchParsable(output: string): string | null {
  for (const line of output.split('\n')) {
    const match = /^\s*(?:Submitted batch job\s+)?(\d+)(?:;\S*|\s+on cluster\s+\S+)?\s*$/.exec(line);
    if (match?.[1]) return match[1];
  }
  return null;
}

// A "key=value key=value" line split at each " Key=": values with spaces (JobName, WorkDir, StdOut…) survive
// unless the space is followed by a capitalised word and "=", which SLURM does not escape, so no reader could
// tell that apart from a new key.
function scontrolFields(record: string): Map<string, string> {
  const fields = new Map<string, string>();
  const keyPattern = /(?:^|\s)([A-Z][\w:/]*)=/g;
  const keys: { name: string; valueStart: number; keyStart: number }[] = [];
  for (let match = keyPattern.exec(record); match !== null; match = keyPattern.exec(record)) {
    const name = match[1] ?? '';
    keys.push({ name, valueStart: match.index + match[0].length, keyStart: match.index });
  }
  keys.forEach((key, index) => {
    const valueEnd = keys[index + 1]?.keyStart ?? record.length;
    // The first occurrence wins: `-d` appends per-node lines that reuse some names.
    if (!fields.has(key.name)) fields.set(key.name, record.slice(key.valueStart, valueEnd).trim());
  });
  return fields;
}

// scontrol names an array task by its own job id (JobId=53 ArrayJobId=52 ArrayTaskId=0); squeue and sacct call it
// "52_0", and that is the name the rest of the server knows.
function scontrolJobId(fields: Map<string, string>): string | null {
  const jobId = fields.get('JobId');
  const arrayJobId = fields.get('ArrayJobId');
  const arrayTaskId = fields.get('ArrayTaskId');
  const hetJobId = fields.get('HetJobId');
  const hetOffset = fields.get('HetJobOffset');
  let id: string | undefined = jobId;
  if (arrayJobId && arrayTaskId) id = /^\d+$/.test(arrayTaskId) ? `${arrayJobId}_${arrayTaskId}` : `${arrayJobId}_[${arrayTaskId}]`;
  else if (hetJobId && hetOffset) id = `${hetJobId}+${hetOffset}`;
  return id !== undefined && JOB_ID.test(id) ? id : null;
}

const JOB_ID = /^\d+(?:_(?:\d+|\[[^\]\s|]*\]))?(?:\+\d+)?$/;
const STEP_ID = /^\d+(?:_(?:\d+|\[[^\]\s|]*\]))?(?:\+\d+)?\.[\w-]+$/;
// A header line from a command run without -h / -n.
const HEADER_ID = /^(?:JOBID|JobID)$/;

function parseDelimited(
  output: string,
  command: string,
  fieldCount: number,
  read: (fields: string[]) => SlurmJobStatus,
): SlurmJobStatus[] {
  const statuses: SlurmJobStatus[] = [];
  let unreadable: string | null = null;
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const parts = line.split('|');
    const id = parts[0]?.trim() ?? '';
    if (STEP_ID.test(id) || HEADER_ID.test(id)) continue;
    if (parts.length < fieldCount || !JOB_ID.test(id) || (parts[1] ?? '').trim() === '') {
      if (!isDiagnostic(line)) unreadable ??= line;
      continue;
    }
    // The work directory comes last because it is the one field that may itself contain "|".
    const fields = [...parts.slice(0, fieldCount - 1), parts.slice(fieldCount - 1).join('|')];
    statuses.push(read(fields));
  }
  if (statuses.length === 0 && unreadable !== null) throw unreadableError(command, unreadable);
  return statuses;
}

// "slurm_load_jobs error: Invalid job id specified", "squeue: error: …", "No jobs in the system": SLURM
// speaking for itself; the caller judges those by the exit code, so they are neither jobs nor garbage.
function isDiagnostic(line: string): boolean {
  return /^[\w.: -]{0,60}\b(?:error|warning|fatal)\b:/i.test(line) || /^No jobs in the system$/i.test(line.trim());
}

function unreadableError(command: string, line: string): SlurmParseError {
  return new SlurmParseError(command, `not the expected output format: ${JSON.stringify(line.slice(0, 120))}`);
}

interface RawJobFields {
  id: string | undefined;
  rawState: string | undefined;
  reason: string | undefined;
  exitCode: string | undefined;
  start: string | undefined;
  end: string | undefined;
  elapsed: string | undefined;
  nodeList: string | undefined;
  workDir: string | undefined;
}

function toStatus(raw: RawJobFields): SlurmJobStatus {
  const rawState = (raw.rawState ?? '').trim();
  const state = normalizeSlurmState(rawState);
  const nodeList = knownText(raw.nodeList);
  const elapsedSeconds = parseElapsed(raw.elapsed ?? '');
  // Exit code, end time: only facts once the job has ended; before that SLURM prints 0:0 and forecasts.
  const ended = TERMINAL_STATES.has(state) || state === 'COMPLETING';
  const hasRun = state !== 'PENDING' && (nodeList !== null || (elapsedSeconds ?? 0) > 0);
  const [exitCode, signal] = ended ? parseExitCode(raw.exitCode) : [null, null];
  return {
    slurmJobId: (raw.id ?? '').trim(),
    rawState,
    state,
    reason: parseReason(raw.reason),
    exitCode,
    signal,
    nodeList,
    startedAt: hasRun ? parseTimestamp(raw.start) : null,
    endedAt: ended ? parseTimestamp(raw.end) : null,
    expectedStartAt: state === 'PENDING' ? parseTimestamp(raw.start) : null,
    timeLimitAt: state === 'RUNNING' ? parseTimestamp(raw.end) : null,
    elapsedSeconds,
    workDir: knownText(raw.workDir),
  };
}

const NOT_KNOWN = new Set(['', 'unknown', 'none', 'n/a', '(null)', 'none assigned']);

function knownText(value: string | undefined): string | null {
  if (value === undefined) return null;
  const text = value.trim();
  return NOT_KNOWN.has(text.toLowerCase()) ? null : text;
}

function parseReason(value: string | undefined): string | null {
  // squeue's %R wraps a pending reason in parentheses; %r and the others do not.
  const text = knownText(value);
  return text === null ? null : knownText(text.replace(/^\((.*)\)$/, '$1'));
}

// Only SLURM's default "standard" time format is read; anything else (SLURM_TIME_FORMAT=relative gives
// "Tomorr 09:00") cannot be placed in time, so the server should run commands with SLURM_TIME_FORMAT=standard.
function parseTimestamp(value: string | undefined): string | null {
  const text = value?.trim() ?? '';
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text) ? text : null;
}

function parseExitCode(value: string | undefined): [number | null, number | null] {
  // Exit status and signal are bytes; longer digit runs are garbled output, not an exit code.
  const match = /^(\d{1,3}):(\d{1,3})$/.exec(value?.trim() ?? '');
  if (!match) return [null, null];
  const signal = Number(match[2]);
  return [Number(match[1]), signal === 0 ? null : signal];
}

/** SLURM's durations: "0:05", "1:26", "00:01:26", "1-02:03:04", "2-03" (days-hours); "UNLIMITED", "INVALID" → null. */
export function parseElapsed(value: string): number | null {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?(?:\.\d+)?$/.exec(value.trim());
  if (!match) return null;
  const [, days, first, second, third] = match;
  let hours: number;
  let minutes: number;
  let seconds: number;
  if (days !== undefined) {
    [hours, minutes, seconds] = [Number(first), Number(second ?? 0), Number(third ?? 0)];
  } else if (third !== undefined) {
    [hours, minutes, seconds] = [Number(first), Number(second), Number(third)];
  } else if (second !== undefined) {
    [hours, minutes, seconds] = [0, Number(first), Number(second)];
  } else {
    return null; // a bare number is minutes to sbatch but never printed by squeue or sacct: ambiguous
  }
  if (minutes >= 60 || seconds >= 60) return null;
  const total = (Number(days ?? 0) * 24 + hours) * 3600 + minutes * 60 + seconds;
  // Digits too many to add up exactly are garbled output, not a duration.
  return Number.isSafeInteger(total) ? total : null;
}
