// The user's jobs from SLURM's accounting since a time: ONE sacct command per cluster, for the usage figures of jobs
// launched elsewhere (server/usage/). The script is a constant; the start time reaches it as an argument.
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { SlurmParseError, isAccountingDisabledMessage, normalizeSlurmState, type JobState } from './state.js';

/** sacct's fields, in the order parseAccountingRecords reads them. */
export const USAGE_SACCT_FIELDS = 'JobID,State,Partition,AllocTRES,ReqTRES,Submit,Start,End,ExitCode';

// -X: the job's own line, no steps; -P: '|' between fields, never cut; SLURM_TIME_FORMAT: the one format the parsers
// read. $1 is the start time (-S: every job in any state at or after it), $2 the fields.
const USAGE_SCRIPT = `export SLURM_TIME_FORMAT=standard
exec sacct -X -n -P -S "$1" -E now -u "$(id -un)" -o "$2"`;

/** One job as accounting records it, with what its GPU-hours and queue wait are computed from. */
export interface AccountingRecord {
  slurmJobId: string;
  rawState: string;
  state: JobState;
  partition: string | null;
  /** GPUs the job held (AllocTRES), or asked for while it never ran (ReqTRES); 0 for a job without GPUs. */
  gpus: number;
  /** The GPU type of those GPUs ('any' when SLURM names none); null without GPUs. */
  gpuType: string | null;
  /** SLURM's local time text, as the other parsers give it. */
  submittedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  exitCode: number | null;
}

/** How long the sacct of a day's jobs may take before it is given up (the next hourly check tries again). */
export const USAGE_SACCT_TIMEOUT_MS = 120_000;

/** `since`: SLURM's time format (YYYY-MM-DDTHH:MM:SS), as sacct -S reads it. */
export async function readAccountingSince(transport: Transport, since: string): Promise<AccountingRecord[]> {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(since)) throw new SlurmError('sacct', null, `not a SLURM time: ${JSON.stringify(since.slice(0, 40))}`);
  const result = await transport.exec(['sh', '-c', USAGE_SCRIPT, 'sh', since, USAGE_SACCT_FIELDS], { kind: 'usage-sacct', timeoutMs: USAGE_SACCT_TIMEOUT_MS });
  if (result.exitCode !== 0 || isAccountingDisabledMessage(result.stdout)) throw new SlurmError('sacct', result.exitCode, result.stderr || result.stdout);
  return parseAccountingRecords(result.stdout);
}

// A job (123), an array task (123_4) or a heterogeneous component (123+1); a folded array rest (123_[5-9]) never ran.
const RECORD_ID = /^\d+(?:_\d+)?(?:\+\d+)?$/;
const FOLDED_OR_STEP = /^\d+(?:_\[[^\]]*\])?(?:\+\d+)?(?:\.[\w-]+)?$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

/** `sacct -X -n -P -o USAGE_SACCT_FIELDS`; folded array rests and step lines are left out, anything else unreadable is an error. */
export function parseAccountingRecords(output: string): AccountingRecord[] {
  if (isAccountingDisabledMessage(output)) throw new SlurmParseError('sacct', 'Slurm accounting storage is disabled');
  const records: AccountingRecord[] = [];
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const fields = line.split('|');
    const [id = '', rawState = '', partition = '', allocTres = '', reqTres = '', submit = '', start = '', end = '', exit = ''] = fields.map((field) => field.trim());
    if (fields.length !== 9 || rawState === '') throw new SlurmParseError('sacct', `not the expected output format: ${JSON.stringify(line.slice(0, 120))}`);
    if (!RECORD_ID.test(id)) {
      if (FOLDED_OR_STEP.test(id)) continue;
      throw new SlurmParseError('sacct', `not a job id: ${JSON.stringify(id.slice(0, 40))}`);
    }
    const startedAt = TIME.test(start) ? start : null;
    // A job that never ran (cancelled while pending) holds nothing: what it asked for is its GPU type for the wait table.
    const gpus = gpusOf(allocTres) ?? (startedAt === null ? gpusOf(reqTres) : null) ?? { count: 0, type: null };
    const exitMatch = /^(\d{1,3}):\d{1,3}$/.exec(exit);
    const state = normalizeSlurmState(rawState);
    records.push({
      slurmJobId: id,
      rawState,
      state,
      partition: partition === '' ? null : partition,
      gpus: gpus.count,
      gpuType: gpus.type,
      submittedAt: TIME.test(submit) ? submit : null,
      startedAt,
      // A running job's End is "Unknown"; only an ended job's is a fact.
      endedAt: TIME.test(end) && state !== 'RUNNING' && state !== 'PENDING' ? end : null,
      exitCode: exitMatch ? Number(exitMatch[1]) : null,
    });
  }
  return records;
}

/** GPUs in a TRES list: `gres/gpu=2` and, where the site accounts types, `gres/gpu:a100=2`; null when it lists none. */
export function gpusOf(tres: string): { count: number; type: string | null } | null {
  let total: number | null = null;
  const typed: Array<{ type: string; count: number }> = [];
  for (const entry of tres.split(',')) {
    const match = /^gres\/gpu(?::([^=]+))?=(\d+)$/.exec(entry.trim());
    if (!match) continue;
    if (match[1] === undefined) total = Number(match[2]);
    else typed.push({ type: match[1], count: Number(match[2]) });
  }
  const count = total ?? typed.reduce((sum, entry) => sum + entry.count, 0);
  if (total === null && typed.length === 0) return null;
  if (count === 0) return { count: 0, type: null };
  // One type: that type. Several (a job spread over nodes of two types) or none accounted: 'any'.
  return { count, type: typed.length === 1 ? typed[0]!.type : 'any' };
}
