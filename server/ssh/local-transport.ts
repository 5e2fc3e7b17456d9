// For a server running on the login node itself. Commands go through /bin/sh like an ssh exec does, so a
// command behaves the same whichever transport carries it. Each command gets its own process group: a timeout
// or stop() ends the shell and everything it started, not just the shell.
import { CommandTimeoutError } from '../errors.js';
import { runProcess, streamProcess, type ChildSet } from './child-process.js';
import { quoteArgv } from './quote.js';
import type { ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions } from './transport.js';

export function createLocalTransport(cluster: { name: string; commandTimeoutMs: number }): StreamingTransport {
  const running: ChildSet = new Set();
  return {
    async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
      const command = quoteArgv(argv);
      const timeoutMs = options.timeoutMs ?? cluster.commandTimeoutMs;
      const result = await runProcess('/bin/sh', ['-c', command], { stdin: options.stdin, timeoutMs, processGroup: true }, running);
      if (result.timedOut) throw new CommandTimeoutError(`${cluster.name}: ${argv[0]} did not finish within ${timeoutMs} ms`);
      return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode, durationMs: result.durationMs };
    },

    async stream(argv: readonly string[], options: StreamOptions): Promise<StreamHandle> {
      const command = quoteArgv(argv);
      const started = await streamProcess('/bin/sh', ['-c', command], { ...options, processGroup: true }, running);
      return {
        stop: started.stop,
        done: started.ended.then(({ exitCode, error }) => ({ exitCode, error })),
      };
    },

    async close() {
      for (const child of running) {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    },
  };
}
