// A job's output as it is written: one remote `tail -F` kept open on the cluster's connection until stopped. -F
// waits for a file that does not exist yet (a pending job) and follows it through SLURM's reopen.
import type { StreamHandle, StreamingTransport } from '../ssh/transport.js';
import { jobPaths } from './layout.js';

/** Without a starting byte, the end of the output sent first: enough for a screen of recent lines. */
export const BACKLOG_BYTES = 65536;

/**
 * Follows the output of the job in `jobDir`: from byte `fromByte` (0-based) when the watcher has what comes before
 * it, else its last 64 kB; then everything new, handed to `onText` as it arrives.
 */
export function followJobOutput(transport: StreamingTransport, jobDir: string, fromByte: number | null, onText: (text: string) => void): Promise<StreamHandle> {
  const start = fromByte === null ? String(BACKLOG_BYTES) : `+${fromByte + 1}`;
  return transport.stream(['tail', '-c', start, '-F', '--', jobPaths(jobDir).output], { kind: 'log-follow', onStdout: onText });
}
