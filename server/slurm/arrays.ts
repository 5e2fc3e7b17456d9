// Steering SLURM job arrays (sweeps) over a transport: the cluster's array size limit, cancelling an array or only
// its pending tasks, changing how many of its tasks run at once. Scripts are constants and values travel as
// arguments, as in jobs.ts. What SLURM 22.05 really prints in the edge cases handled here is recorded in
// test/fixtures/slurm (arrays-*.txt) and described in its README.
import { SlurmError, ValidationError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { parseArrayTaskId, parseFoldedArrayTasks } from './parse.js';

/** slurm.conf(5): "The default value is 1001"; the highest task index is one less. */
export const DEFAULT_MAX_ARRAY_SIZE = 1001;

/** slurm.conf(5): MaxArraySize "may not exceed 4000001", so no array has more tasks than this. */
const MAX_ARRAY_SIZE_CEILING = 4_000_001;

/** SLURM job ids and array task indexes are 32-bit unsigned. */
const MAX_SLURM_ID = 0xffff_ffff;

function maxArraySizeValue(text: string): string | undefined {
  return /^MaxArraySize\s*=\s*(.*?)\s*$/m.exec(text)?.[1];
}

/**
 * `MaxArraySize = 1001` from `scontrol show config`; null when the line is absent or its value is no size SLURM
 * allows. 0 is a real answer: the cluster has job arrays disabled.
 */
export function parseMaxArraySize(text: string): number | null {
  const value = maxArraySizeValue(text);
  if (value === undefined || !/^\d{1,7}$/.test(value)) return null;
  const size = Number(value);
  return size <= MAX_ARRAY_SIZE_CEILING ? size : null;
}

/**
 * The cluster's MaxArraySize (task indexes run 0..MaxArraySize-1). scontrol prints the effective value, default
 * included, so an absent line means a SLURM that does not print it, and SLURM's default applies; a line whose value
 * cannot be read is a SlurmError rather than a guess.
 */
export async function readMaxArraySize(transport: Transport): Promise<number> {
  const result = await transport.exec(['scontrol', 'show', 'config'], { kind: 'max-array-size' });
  if (result.exitCode !== 0) throw new SlurmError('scontrol show config', result.exitCode, result.stderr);
  const value = maxArraySizeValue(result.stdout);
  if (value === undefined) return DEFAULT_MAX_ARRAY_SIZE;
  const size = parseMaxArraySize(result.stdout);
  if (size === null) throw new SlurmError('scontrol show config', result.exitCode, `MaxArraySize is not a size: ${JSON.stringify(value.slice(0, 40))}`);
  return size;
}

const isSlurmId = (text: string) => /^\d{1,10}$/.test(text) && Number(text) <= MAX_SLURM_ID;

/** The array's own id from `123`, a task `123_4` or a folded record `123_[5-9%2]`, as squeue and sacct print them. */
export function arrayJobIdOf(slurmJobId: string): string {
  const arrayJobId = isSlurmId(slurmJobId) ? slurmJobId : (parseArrayTaskId(slurmJobId) ?? parseFoldedArrayTasks(slurmJobId))?.arrayJobId;
  if (arrayJobId === undefined || !isSlurmId(arrayJobId)) {
    throw new ValidationError('slurmJobId', `${JSON.stringify(slurmJobId.slice(0, 80))} is not a SLURM job id (123), array task (123_4) or folded array record (123_[5-9%2])`);
  }
  return arrayJobId;
}

function checkIds(ids: string[], allowTasks: boolean, why: string): void {
  for (const id of ids) {
    const task = allowTasks ? parseArrayTaskId(id) : null;
    const valid = task ? isSlurmId(task.arrayJobId) && task.index <= MAX_SLURM_ID : isSlurmId(id);
    if (!valid) throw new ValidationError('arrayJobIds', `${JSON.stringify(id.slice(0, 80))} is not ${why} (digits, at most ${MAX_SLURM_ID})`);
  }
}

// scancel's own words for "nothing left to cancel there". Plain scancel ignores a finished or unknown id silently
// (exit 0); with --state it checks the ids against the queue first and says "Invalid job id specified", exit 1, for
// an array whose tasks have all ended or been purged. Slurm's scancel source hides ALREADY_DONE ("Job/step already
// completing or completed") the same way on its default path; newer releases say "No active jobs match ALL job
// filters" where no task is left in the asked state.
const SCANCEL_NOTHING_LEFT = /^scancel: error: Kill job error on job id (\S+): (?:Invalid job id specified|Job\/step already completing or completed)$/;
const SCANCEL_NO_MATCH = /^scancel: error: No active jobs match ALL job filters/;

/** The lines of scancel's stderr that are real failures, not an array that already ended. */
export function scancelFailures(stderr: string, slurmJobIds: readonly string[]): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => {
      if (line === '' || SCANCEL_NO_MATCH.test(line)) return false;
      const id = SCANCEL_NOTHING_LEFT.exec(line)?.[1];
      return id === undefined || !slurmJobIds.includes(id);
    });
}

/**
 * Cancels whole arrays (or single tasks, `123_4`), or only their tasks still pending, in one remote command. An
 * array that has already ended is not an error: there is nothing left to cancel. With onlyPending, task ids are
 * refused: Slurm 22.05's `scancel --state=PENDING 123_4` cancels every pending task of 123 (seen on the lab).
 */
export async function cancelArrays(transport: Transport, arrayJobIds: string[], onlyPending: boolean): Promise<void> {
  checkIds(arrayJobIds, !onlyPending, onlyPending ? 'an array job id (only a whole array can lose its pending tasks)' : 'a SLURM job id (123) or array task id (123_4)');
  if (arrayJobIds.length === 0) return;
  const result = await transport.exec(['scancel', ...(onlyPending ? ['--state=PENDING'] : []), '--', ...arrayJobIds], { kind: 'cancel-arrays' });
  if (result.exitCode === 0) return;
  const failures = scancelFailures(result.stderr, arrayJobIds);
  if (failures.length > 0 || result.exitCode === null || result.stderr.trim() === '') throw new SlurmError('scancel', result.exitCode, result.stderr);
}

const REPLY_MARK = '--mission-control--';

// One remote command for any number of arrays: each gets its own scontrol call (scontrol takes one JobId per
// update), and its reply, stdout and stderr together, follows a mark with the id and exit status.
const THROTTLE_SCRIPT = `throttle=$1; shift
for id do
  reply=$(scontrol update JobId="$id" ArrayTaskThrottle="$throttle" 2>&1); status=$?
  printf '%s %s %s\\n%s\\n' '${REPLY_MARK}' "$id" "$status" "$reply"
done`;

export interface ThrottleReply {
  arrayJobId: string;
  exitCode: number;
  lines: string[];
}

/** The script's output, one reply per array it was run for. */
export function parseThrottleReplies(stdout: string): ThrottleReply[] {
  const replies: ThrottleReply[] = [];
  for (const line of stdout.split('\n')) {
    const mark = line.startsWith(`${REPLY_MARK} `) ? /^(\S+) (\d+)$/.exec(line.slice(REPLY_MARK.length + 1)) : null;
    if (mark) replies.push({ arrayJobId: mark[1]!, exitCode: Number(mark[2]), lines: [] });
    else if (line.trim() !== '') replies.at(-1)?.lines.push(line.trim());
  }
  return replies;
}

// scontrol updates every task record of the array and prints one line per range of tasks with its outcome, exiting
// 1 if any failed. A running sweep with finished tasks therefore answers `2787_0-1: Job has already finished` and
// `2787_2-7: No error`, exit 1, with the throttle applied; an array whose tasks have all ended answers that and
// `(null): No error`; a purged one `Invalid job id specified for job 2083`. None of these is a failure.
const THROTTLE_HARMLESS = /^(?:\S+: (?:No error|Job has already finished|Job\/step already completing or completed)|Invalid job id specified for job \d+)$/;

/** What went wrong per array, e.g. `2787: 2787_2-7: Access/permission denied`; empty when every array was set or ended. */
export function throttleFailures(replies: readonly ThrottleReply[], arrayJobIds: readonly string[]): string[] {
  const failures: string[] = [];
  for (const id of arrayJobIds) {
    const reply = replies.find((candidate) => candidate.arrayJobId === id);
    if (!reply) failures.push(`${id}: no answer from scontrol`);
    else if (reply.exitCode !== 0) {
      const harmful = reply.lines.filter((line) => !THROTTLE_HARMLESS.test(line));
      if (harmful.length > 0 || reply.lines.length === 0) failures.push(`${id}: ${harmful.join('; ') || `exit ${reply.exitCode} without a message`}`);
    }
  }
  return failures;
}

/**
 * Sets how many tasks of each array may run at once (0: no limit, as in SLURM), in one remote command. Only array
 * ids: scontrol accepts a task id (`123_4`) and exits 0 but changes nothing. An array that has already ended is not
 * an error (there is no task left to throttle).
 */
export async function setArrayThrottle(transport: Transport, arrayJobIds: string[], maxRunning: number): Promise<void> {
  checkIds(arrayJobIds, false, 'an array job id (the throttle belongs to the whole array)');
  if (!Number.isSafeInteger(maxRunning) || maxRunning < 0 || maxRunning > MAX_ARRAY_SIZE_CEILING) {
    throw new ValidationError('maxRunning', `must be a whole number from 0 (no limit) to ${MAX_ARRAY_SIZE_CEILING}, not ${maxRunning}`);
  }
  if (arrayJobIds.length === 0) return;
  const result = await transport.exec(['sh', '-c', THROTTLE_SCRIPT, 'sh', String(maxRunning), ...arrayJobIds], { kind: 'array-throttle' });
  if (result.exitCode !== 0) throw new SlurmError('scontrol update', result.exitCode, result.stderr || result.stdout);
  const failures = throttleFailures(parseThrottleReplies(result.stdout), arrayJobIds);
  if (failures.length > 0) throw new SlurmError('scontrol update', null, failures.join('\n'));
}
