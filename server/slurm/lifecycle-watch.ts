// What running jobs write, read by ONE long-running remote command per cluster on its open connection instead of
// asking slurmctld: their lifecycle events (config/sbatch.template.sh writes one file per event in the job's events
// directory), the new bytes of files they write (their log, metric files, GPU samples: each from a byte offset, a
// bounded amount a round, never a whole file twice), and the files that come to match a pattern (a metric file
// created once training starts). The command runs the same rounds once (`once`) to read ended jobs one last time.
import type { StreamHandle, StreamingTransport } from '../ssh/transport.js';
import { jobPaths } from './layout.js';

/**
 * The events a watch reports: the job script's start, its end with its exit status, and its requeue of itself (at its
 * time limit's signal, with its restart count) just before `scontrol requeue`.
 */
export const LIFECYCLE_EVENTS = ['started', 'finished', 'requeued'] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

export type WatchSource =
  /**
   * A job's lifecycle events, from its directory; with `after` (epoch seconds), only records written from then on: a
   * requeued job's directory keeps its earlier runs' records until its next run rewrites them, and a record
   * reported once is not looked at again by the same watch.
   */
  | { kind: 'events'; jobDir: string; after?: number }
  /** A file's bytes from `offset` on, as it grows; a file that shrank (rewritten) is read again from its start. */
  | { kind: 'file'; path: string; offset: number }
  /** An absolute glob (`*` in file names): each file matching it is reported. */
  | { kind: 'glob'; pattern: string };

export interface WatchHandlers {
  onEvent?(source: number, event: LifecycleEventName, fields: string[]): void;
  /** `bytes` of file source `source`, starting at byte `from`. */
  onBytes?(source: number, from: number, bytes: Buffer): void;
  /** The file became shorter than what was read of it: it is read again from 0 (`onBytes` follows). */
  onRewound?(source: number): void;
  onMatch?(source: number, path: string): void;
}

export interface WatchOptions {
  /** Most bytes read from one file in a round. */
  roundBytes?: number;
  /** Files and patterns are looked at every this many rounds (events every round, a second apart). */
  fileEvery?: number;
}

const DEFAULT_ROUND_BYTES = 256 * 1024;
const DEFAULT_FILE_EVERY = 2;

// Sources arrive as arguments `<kind>:<offset>:<path>` (the path last, so it may hold any character but NUL); a line
// of output names its source by position, so no path is parsed back out of it. Each event is printed once per watch
// (a new watch prints what is there again) and not looked at again: a 1,000-task sweep would otherwise resend every
// event each second. File bytes travel base64-encoded (tfevents files are binary), read with dd from the offset the
// script keeps per source. A pattern is expanded unquoted with IFS empty (no word splitting of a path with spaces),
// and its matches are listed again only when their number changed. The `.` each round tells a quiet watch from a
// dead one on the wire.
const WATCH_SCRIPT = `round_bytes=$1 file_every=$2 once=$3; shift 3
round=0
while :; do
  i=0
  for source do
    kind=\${source%%:*}; rest=\${source#*:}; path=\${rest#*:}
    case $kind in
      e)
        after=\${rest%%:*}
        for event in ${LIFECYCLE_EVENTS.join(' ')}; do
          eval "seen=\\\${seen_\${i}_\${event}:-}"
          [ -n "$seen" ] && continue
          [ -f "$path/$event" ] || continue
          record=$(cat "$path/$event")
          # An earlier run's record: looked at again next round, until the run that is current rewrites it.
          [ "$after" -gt 0 ] && [ "\${record%% *}" -lt "$after" ] 2>/dev/null && continue
          printf 'E %s %s %s\\n' "$i" "$event" "$record"
          eval "seen_\${i}_\${event}=1"
        done ;;
      f)
        if [ $((round % file_every)) -eq 0 ]; then
          eval "offset=\\\${offset_\${i}:-\${rest%%:*}}"
          if size=$(stat -c %s -- "$path" 2>/dev/null); then
            if [ "$size" -lt "$offset" ]; then printf 'R %s\\n' "$i"; offset=0; fi
            if [ "$size" -gt "$offset" ]; then
              count=$((size - offset)); [ "$count" -gt "$round_bytes" ] && count=$round_bytes
              printf 'B %s %s ' "$i" "$offset"
              dd if="$path" iflag=skip_bytes,count_bytes skip="$offset" count="$count" bs=65536 2>/dev/null | base64 -w 0
              echo
              offset=$((offset + count))
            fi
          fi
          eval "offset_\${i}=\\$offset"
        fi ;;
      g)
        if [ $((round % file_every)) -eq 0 ]; then
          IFS=; matches=0; listed=
          for match in $path; do
            [ -f "$match" ] || continue
            matches=$((matches + 1)); listed="$listed$(printf '%s' "$match" | base64 -w 0) "
          done
          unset IFS
          eval "before=\\\${matches_\${i}:-0}"
          if [ "$matches" -ne "$before" ]; then
            for encoded in $listed; do printf 'G %s %s\\n' "$i" "$encoded"; done
            eval "matches_\${i}=\\$matches"
          fi
        fi ;;
    esac
    i=$((i + 1))
  done
  echo .
  [ "$once" = 1 ] && exit 0
  round=$((round + 1))
  sleep 1
done`;

function argumentOf(source: WatchSource): string {
  switch (source.kind) {
    case 'events':
      return `e:${source.after ?? 0}:${jobPaths(source.jobDir).events}`;
    case 'file':
      return `f:${source.offset}:${source.path}`;
    case 'glob':
      return `g:0:${source.pattern}`;
  }
}

/** Feeds a watch's stdout, in chunks as they arrive, to the handlers, line by line. */
function lineReader(sources: readonly WatchSource[], handlers: WatchHandlers): (chunk: string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [tag, index, ...fields] = line.split(' ');
      const source = /^\d+$/.test(index ?? '') ? Number(index) : -1;
      if (source < 0 || source >= sources.length) continue;
      if (tag === 'E' && LIFECYCLE_EVENTS.includes(fields[0] as LifecycleEventName)) handlers.onEvent?.(source, fields[0] as LifecycleEventName, fields.slice(1));
      else if (tag === 'B' && /^\d+$/.test(fields[0] ?? '')) handlers.onBytes?.(source, Number(fields[0]), Buffer.from(fields[1] ?? '', 'base64'));
      else if (tag === 'R') handlers.onRewound?.(source);
      else if (tag === 'G' && fields[0]) handlers.onMatch?.(source, Buffer.from(fields[0], 'base64').toString('utf8'));
    }
  };
}

const scriptArgs = (sources: readonly WatchSource[], options: WatchOptions, once: boolean) => [
  'sh',
  '-c',
  WATCH_SCRIPT,
  'sh',
  String(options.roundBytes ?? DEFAULT_ROUND_BYTES),
  String(once ? 1 : (options.fileEvery ?? DEFAULT_FILE_EVERY)),
  once ? '1' : '0',
  ...sources.map(argumentOf),
];

/** Watches the sources until stopped; the handlers hear each event once, and each file's new bytes. */
export function watchJobFiles(transport: StreamingTransport, sources: readonly WatchSource[], handlers: WatchHandlers, options: WatchOptions = {}): Promise<StreamHandle> {
  return transport.stream(scriptArgs(sources, options, false), { kind: 'lifecycle-watch', onStdout: lineReader(sources, handlers) });
}

/** One round of the watch, run once (ended jobs read one last time); the handlers hear it before this resolves. */
export async function readJobFilesOnce(transport: StreamingTransport, sources: readonly WatchSource[], handlers: WatchHandlers, options: WatchOptions = {}): Promise<void> {
  const result = await transport.exec(scriptArgs(sources, options, true), { kind: 'lifecycle-read', timeoutMs: 120_000 });
  lineReader(sources, handlers)(`${result.stdout}\n`);
}
