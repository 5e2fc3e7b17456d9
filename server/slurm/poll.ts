// Ask the queue, then accounting: ONE remote command per cluster per poll, however many jobs are tracked: every job
// of the user from the queue, then accounting (or scontrol where accounting is off) only for tracked jobs that left
// the queue or ended in it. A single job's refresh goes through the same command and the same rule (statusLookup).
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { includesArrayTask, parseArrayTaskId, parseFoldedArrayTasks, type ArrayTaskRanges } from './parse.js';
import { FINAL_SLURM_STATE_NAMES, SACCT_FIELDS, SQUEUE_FORMAT, TERMINAL_STATES, parseSacct, parseScontrolJobs, parseSqueue, type SlurmJobStatus } from './state.js';

const MARK = '@@mission-control';

// SLURM's words for an ended job, written into the script from the one list (state.ts); only [A-Z_] by their check.
const FINAL_WORDS = FINAL_SLURM_STATE_NAMES.filter((name) => /^[A-Z_]+$/.test(name)).join(' ');

// $1 squeue's format, $2 sacct's fields, then the tracked ids. Those that need accounting keep the order they came in.
// An array's tasks that never started share one folded line (`123_[5-999%64]`): a tracked task inside a folded line
// that has not ended is in the queue, so a 1,000-task array costs the queue one line and accounting nothing.
// A task the queue does not list by its own id is asked of accounting by its array's id: tasks cancelled before they
// started leave the queue as one line with the array's id ("123|CANCELLED") and are in accounting only as the
// array's folded record ("123_[5-9%2]|CANCELLED by 1001"), which `sacct -j 123_7` does not print (Slurm 22.05).
// SLURM_BITSTR_LEN=0: squeue and sacct would otherwise cut a folded expression at 64 bytes (mid-number, no "]").
const POLL_SCRIPT = `squeue_format=$1 sacct_fields=$2; shift 2
export SLURM_TIME_FORMAT=standard SLURM_BITSTR_LEN=0
queue=$(squeue -h -t all -u "$(id -un)" -o "$squeue_format" 2>&1); status=$?
printf '%s\\n${MARK} squeue %s\\n' "$queue" "$status"
[ "$status" -eq 0 ] || exit 0
need=$(printf '%s\\n' "$queue" | awk -F'|' -v ids="$*" -v final='${FINAL_WORDS}' '
  function folds(task, indexes,   count, pieces, k, stepped, bounds, step) {
    count = split(indexes, pieces, ",")
    for (k = 1; k <= count; k++) {
      if (pieces[k] !~ /^[0-9]+(-[0-9]+)?(:[0-9]+)?$/) continue
      step = split(pieces[k], stepped, ":") == 2 ? stepped[2] + 0 : 1
      if (split(stepped[1], bounds, "-") == 1) bounds[2] = bounds[1]
      if (step > 0 && task >= bounds[1] + 0 && task <= bounds[2] + 0 && (task - bounds[1]) % step == 0) return 1
    }
    return 0
  }
  BEGIN { n = split(ids, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1; m = split(final, names, " "); for (i = 1; i <= m; i++) ended[names[i]] = 1 }
  { split($2, word, " ") }
  $1 ~ /^[0-9]+_\\[[^]]*\\]$/ {
    if (word[1] in ended) next
    split($1, folded, "_"); indexes = substr($1, length(folded[1]) + 3); sub(/(%[0-9]*)?\\]$/, "", indexes)
    for (i = 1; i <= n; i++) if (list[i] in want && index(list[i], folded[1] "_") == 1) {
      task = substr(list[i], length(folded[1]) + 2)
      if (task ~ /^[0-9]+$/ && folds(task + 0, indexes)) delete want[list[i]]
    }
    next
  }
  { listed[$1] = 1 }
  !(word[1] in ended) { delete want[$1] }
  END {
    for (i = 1; i <= n; i++) if (list[i] in want) {
      id = list[i]
      if (id ~ /^[0-9]+_[0-9]+$/ && !(id in listed)) id = substr(id, 1, index(id, "_") - 1)
      if (!(id in asked)) print id
      asked[id] = 1
    }
  }')
[ -n "$need" ] || exit 0
accounting=on
set -- $need
while [ $# -gt 0 ]; do
  chunk=""; count=0
  while [ $# -gt 0 ] && [ $count -lt 500 ]; do chunk="$chunk\${chunk:+,}$1"; count=$((count + 1)); shift; done
  if [ $accounting = on ]; then
    out=$(sacct -X -n -P -o "$sacct_fields" -j "$chunk" 2>&1); status=$?
    case "$out" in
      *"accounting storage is disabled"*) accounting=off ;;
      *)
        [ "$status" -eq 0 ] || { printf '${MARK} sacct %s\\n%s\\n' "$status" "$out"; exit 0; }
        printf '%s\\n' "$out"; continue ;;
    esac
  fi
  for id in $(printf '%s' "$chunk" | tr ',' ' '); do scontrol show job -o "$id" 2>/dev/null; done
done
printf '${MARK} accounting %s\\n' "$accounting"`;

export interface PollResult {
  /** Every job of the user the queue knows (our jobs and jobs submitted outside Mission Control). */
  queue: SlurmJobStatus[];
  /** Tracked jobs that left the queue or ended in it, from accounting or scontrol. */
  finished: SlurmJobStatus[];
  /** sacct failed (accounting being off is not a failure): what only accounting could say is not known. */
  accountingError: SlurmError | null;
  durationMs: number;
}

export async function pollJobs(transport: Transport, trackedIds: string[]): Promise<PollResult> {
  const result = await transport.exec(['sh', '-c', POLL_SCRIPT, 'sh', SQUEUE_FORMAT, SACCT_FIELDS, ...trackedIds], { kind: 'poll' });
  if (result.exitCode !== 0) throw new SlurmError('poll', result.exitCode, result.stderr);
  return { ...parsePollOutput(result.stdout), durationMs: result.durationMs };
}

export function parsePollOutput(stdout: string): Omit<PollResult, 'durationMs'> {
  const squeueMark = new RegExp(`^${MARK} squeue (\\d+)$`, 'm').exec(stdout);
  if (!squeueMark) throw new SlurmError('squeue', null, stdout.trim() || 'no answer');
  const queueText = stdout.slice(0, squeueMark.index);
  if (squeueMark[1] !== '0') throw new SlurmError('squeue', Number(squeueMark[1]), queueText);
  const queue = queueText.trim() ? parseSqueue(queueText) : [];
  const rest = stdout.slice(squeueMark.index + squeueMark[0].length + 1);
  const sacctFailed = new RegExp(`^${MARK} sacct (\\d+)$`, 'm').exec(rest);
  if (sacctFailed) {
    const finishedText = rest.slice(0, sacctFailed.index);
    const accountingError = new SlurmError('sacct', Number(sacctFailed[1]), rest.slice(sacctFailed.index + sacctFailed[0].length + 1));
    return { queue, finished: finishedText.trim() ? parseSacct(finishedText) : [], accountingError };
  }
  const accountingMark = new RegExp(`^${MARK} accounting (on|off)$`, 'm').exec(rest);
  const finishedText = accountingMark ? rest.slice(0, accountingMark.index) : '';
  const finished = !finishedText.trim() ? [] : accountingMark![1] === 'on' ? parseSacct(finishedText) : parseScontrolJobs(finishedText);
  return { queue, finished, accountingError: null };
}

/** Statuses by the id a Job row keeps: a plain job by its id, an array task by "arrayJobId_index". */
export interface StatusIndex {
  get(slurmJobId: string): SlurmJobStatus | undefined;
}

/**
 * Statuses by id, where a task that never started is found in its array's folded record (`123_[5-10%2]` answers
 * for "123_7", under that name); a task's own line wins over a folded one. Folded records stay ranges, so the
 * index costs one entry per line SLURM printed, however many tasks those lines stand for.
 */
export function statusIndex(statuses: SlurmJobStatus[]): StatusIndex {
  const byId = new Map<string, SlurmJobStatus>();
  const foldedByArray = new Map<string, Array<{ tasks: ArrayTaskRanges; status: SlurmJobStatus }>>();
  for (const status of statuses) {
    byId.set(status.slurmJobId, status);
    const tasks = parseFoldedArrayTasks(status.slurmJobId);
    if (tasks) foldedByArray.set(tasks.arrayJobId, [...(foldedByArray.get(tasks.arrayJobId) ?? []), { tasks, status }]);
  }
  return {
    get(slurmJobId) {
      const own = byId.get(slurmJobId);
      if (own) return own;
      const task = parseArrayTaskId(slurmJobId);
      if (!task) return undefined;
      const folded = foldedByArray.get(task.arrayJobId)?.find(({ tasks }) => includesArrayTask(tasks, task.index));
      if (folded) return { ...folded.status, slurmJobId };
      // The rest of an array that ended before any of it started (its pending tasks cancelled) may also be listed
      // unfolded, under the array's bare id ("3286|CANCELLED by 1001"): that is the end of every task without a line.
      const rest = byId.get(task.arrayJobId);
      return rest && TERMINAL_STATES.has(rest.state) ? { ...rest, slurmJobId } : undefined;
    },
  };
}

const ended = (status: SlurmJobStatus | undefined): status is SlurmJobStatus => status !== undefined && TERMINAL_STATES.has(status.state);

/**
 * The rule for a job's truth from one poll: the queue while it runs; accounting once it ended (the exit code and the
 * true end), except that the queue's word that it ended is never taken back by an accounting that lags. The lookup
 * answers undefined when neither knows the job, and throws the accounting failure when only accounting could have
 * answered: a job SLURM may still know is never called unknown for that.
 */
export function statusLookup(poll: Omit<PollResult, 'durationMs'>): (slurmJobId: string) => SlurmJobStatus | undefined {
  const queue = statusIndex(poll.queue);
  const finished = statusIndex(poll.finished);
  return (slurmJobId) => {
    const queued = queue.get(slurmJobId);
    if (queued && !ended(queued)) return queued;
    const recorded = finished.get(slurmJobId);
    if (queued) return ended(recorded) ? recorded : queued;
    if (!recorded && poll.accountingError) throw poll.accountingError;
    return recorded;
  };
}

/** The given jobs' states (a refresh, a cancel), by the poll's command and rule; none for a job SLURM does not know. */
export async function readJobStates(transport: Transport, slurmJobIds: string[]): Promise<SlurmJobStatus[]> {
  if (slurmJobIds.length === 0) return [];
  const statusOf = statusLookup(await pollJobs(transport, slurmJobIds));
  return slurmJobIds.flatMap((slurmJobId) => statusOf(slurmJobId) ?? []);
}
