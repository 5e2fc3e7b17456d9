// Starts and ends of jobs as their scripts record them (config/sbatch.template.sh writes one file per event in the
// job's events directory), read by ONE long-running remote command per cluster on its open connection instead of
// asking slurmctld. The command prints every event file present once a second; the caller keeps what is new.
import type { StreamHandle, StreamingTransport } from '../ssh/transport.js';
import { jobPaths } from './layout.js';

/** The events a watch reports: the job script's start, and its end with its exit status. */
export type LifecycleEventName = 'started' | 'finished';

export interface LifecycleEvent {
  jobDir: string;
  event: LifecycleEventName;
  /** The event file's words as the job script wrote them: epoch seconds, the node, then the SLURM id or exit status. */
  fields: string[];
}

// Events directories arrive as arguments; a line names its directory by position, so no path is parsed back out
// of the output. Each event is printed once per watch (a new watch prints what is there again), and not looked at
// again: a 1,000-task sweep would otherwise resend every event each second. The `.` each round tells a quiet watch
// from a dead one on the wire.
const WATCH_SCRIPT = `while :; do
  i=0
  for dir in "$@"; do
    for event in started finished; do
      eval "seen=\\\${seen_\${i}_\${event}:-}"
      [ -n "$seen" ] && continue
      [ -f "$dir/$event" ] || continue
      printf '%s %s %s\\n' "$i" "$event" "$(cat "$dir/$event")"
      eval "seen_\${i}_\${event}=1"
    done
    i=$((i + 1))
  done
  echo .
  sleep 1
done`;

/** Watches the given job directories until stopped; `onEvent` hears every event each time the files are read. */
export function watchLifecycleEvents(transport: StreamingTransport, jobDirs: readonly string[], onEvent: (event: LifecycleEvent) => void): Promise<StreamHandle> {
  let buffered = '';
  return transport.stream(['sh', '-c', WATCH_SCRIPT, 'sh', ...jobDirs.map((dir) => jobPaths(dir).events)], {
    onStdout: (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [index, event, ...fields] = line.split(' ');
        const jobDir = /^\d+$/.test(index ?? '') ? jobDirs[Number(index)] : undefined;
        if (jobDir === undefined || (event !== 'started' && event !== 'finished')) continue;
        onEvent({ jobDir, event, fields });
      }
    },
  });
}
