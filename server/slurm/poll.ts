// One remote command per cluster per poll, however many jobs are tracked: every job of the user from the queue,
// then accounting (or scontrol where accounting is off) only for tracked jobs that left the queue or ended in it.
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { SACCT_FIELDS, SQUEUE_FORMAT, parseSacct, parseScontrolJobs, parseSqueue, type SlurmJobStatus } from './state.js';

const MARK = '@@mission-control';

const POLL_SCRIPT = `squeue_format=$1 sacct_fields=$2; shift 2
export SLURM_TIME_FORMAT=standard
queue=$(squeue -h -t all -u "$(id -un)" -o "$squeue_format" 2>&1); status=$?
printf '%s\\n${MARK} squeue %s\\n' "$queue" "$status"
[ "$status" -eq 0 ] || exit 0
need=$(printf '%s\\n' "$queue" | awk -F'|' -v ids="$*" '
  BEGIN { n = split(ids, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1 }
  $2 !~ /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)/ { delete want[$1] }
  END { for (id in want) print id }')
[ -n "$need" ] || exit 0
accounting=on
set -- $need
while [ $# -gt 0 ]; do
  chunk=""; count=0
  while [ $# -gt 0 ] && [ $count -lt 500 ]; do chunk="$chunk\${chunk:+,}$1"; count=$((count + 1)); shift; done
  if [ $accounting = on ]; then
    out=$(sacct -X -n -P -o "$sacct_fields" -j "$chunk" 2>&1)
    case "$out" in *"accounting storage is disabled"*) accounting=off ;; *) printf '%s\\n' "$out"; continue ;; esac
  fi
  for id in $(printf '%s' "$chunk" | tr ',' ' '); do scontrol show job -o "$id" 2>/dev/null; done
done
printf '${MARK} accounting %s\\n' "$accounting"`;

export interface PollResult {
  /** Every job of the user the queue knows (our jobs and jobs submitted outside Mission Control). */
  queue: SlurmJobStatus[];
  /** Tracked jobs that left the queue or ended in it, from accounting or scontrol. */
  finished: SlurmJobStatus[];
  durationMs: number;
}

export async function pollJobs(transport: Transport, trackedIds: string[]): Promise<PollResult> {
  const result = await transport.exec(['sh', '-c', POLL_SCRIPT, 'sh', SQUEUE_FORMAT, SACCT_FIELDS, ...trackedIds]);
  if (result.exitCode !== 0) throw new SlurmError('poll', result.exitCode, result.stderr);
  return { ...parsePollOutput(result.stdout), durationMs: result.durationMs };
}

export function parsePollOutput(stdout: string): Omit<PollResult, 'durationMs'> {
  const squeueMark = new RegExp(`^${MARK} squeue (\\d+)$`, 'm').exec(stdout);
  if (!squeueMark) throw new SlurmError('squeue', null, stdout.trim() || 'no answer');
  const queueText = stdout.slice(0, squeueMark.index);
  if (squeueMark[1] !== '0') throw new SlurmError('squeue', Number(squeueMark[1]), queueText);
  const rest = stdout.slice(squeueMark.index + squeueMark[0].length + 1);
  const accountingMark = new RegExp(`^${MARK} accounting (on|off)$`, 'm').exec(rest);
  const finishedText = accountingMark ? rest.slice(0, accountingMark.index) : '';
  const finished = !finishedText.trim() ? [] : accountingMark![1] === 'on' ? parseSacct(finishedText) : parseScontrolJobs(finishedText);
  return { queue: queueText.trim() ? parseSqueue(queueText) : [], finished };
}
