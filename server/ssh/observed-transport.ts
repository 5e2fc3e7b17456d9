// The one place every remote command of every transport passes (the cluster service wraps each transport it makes):
// each is logged at debug and counted. What is recorded is the command's kind, never its argv or script: values a
// command is given (paths, a clone URL) stay out of logs and metric labels, and the scripts are constants anyway.
import { componentLogger } from '../lib/log.js';
import type { ConnectionHooks, ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions } from './transport.js';

export interface CommandRecord {
  cluster: string;
  kind: string;
  durationMs: number;
  /** null when the command ended without an exit status (a signal, a lost connection) or did not run at all. */
  exitCode: number | null;
  /** The command was not run to an exit: the cluster was unreachable, it timed out, the connection dropped. */
  failed: boolean;
}

export interface TransportObserver {
  command?(record: CommandRecord): void;
  connected?(cluster: string): void;
}

/** A command that says no kind is named by its program; `sh -c SCRIPT` by 'sh' (every script of server/slurm/ names its kind). */
function kindOf(argv: readonly string[], options: { kind?: string } | undefined): string {
  return options?.kind ?? argv[0]?.split('/').pop() ?? 'unknown';
}

/**
 * Makes the cluster's transport with connection hooks and wraps it so each command is logged (debug: kind, duration,
 * exit code, stdout/stderr bytes) and told to the observer (metrics).
 */
export function observeTransport(cluster: string, observer: TransportObserver, create: (hooks: ConnectionHooks) => StreamingTransport): StreamingTransport {
  const log = componentLogger('ssh').child({ cluster });
  let connects = 0;
  const transport = create({
    onConnect() {
      connects += 1;
      log.info({ connects }, connects === 1 ? 'connected' : 'reconnected');
      observer.connected?.(cluster);
    },
  });

  function record(kind: string, startedAt: number, exitCode: number | null, bytes: { stdout: number; stderr: number } | null, error: unknown) {
    const durationMs = Math.round(performance.now() - startedAt);
    observer.command?.({ cluster, kind, durationMs, exitCode, failed: error !== null });
    if (!log.isLevelEnabled('debug')) return;
    const fields = { kind, durationMs, exitCode, stdoutBytes: bytes?.stdout, stderrBytes: bytes?.stderr };
    // The message says what happened (unreachable, timed out); a stack would only point into the transport.
    if (error) log.debug({ ...fields, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'remote command failed');
    else log.debug(fields, 'remote command');
  }

  return {
    async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
      const kind = kindOf(argv, options);
      const startedAt = performance.now();
      try {
        const result = await transport.exec(argv, options);
        // Counted only when they are written: a poll's output can be large and is otherwise never measured.
        const bytes = log.isLevelEnabled('debug') ? { stdout: Buffer.byteLength(result.stdout), stderr: Buffer.byteLength(result.stderr) } : null;
        record(kind, startedAt, result.exitCode, bytes, null);
        return result;
      } catch (error) {
        record(kind, startedAt, null, null, error);
        throw error;
      }
    },

    async stream(argv: readonly string[], options: StreamOptions): Promise<StreamHandle> {
      const kind = kindOf(argv, options);
      const startedAt = performance.now();
      const bytes = { stdout: 0, stderr: 0 };
      let handle: StreamHandle;
      try {
        handle = await transport.stream(argv, {
          ...options,
          onStdout(chunk) {
            bytes.stdout += Buffer.byteLength(chunk);
            options.onStdout(chunk);
          },
          onStderr(chunk) {
            bytes.stderr += Buffer.byteLength(chunk);
            options.onStderr?.(chunk);
          },
        });
      } catch (error) {
        record(kind, startedAt, null, null, error);
        throw error;
      }
      log.debug({ kind }, 'remote command started');
      void handle.done.then(({ exitCode, error }) => record(kind, startedAt, exitCode, bytes, error));
      return handle;
    },

    close: () => transport.close(),
  };
}
