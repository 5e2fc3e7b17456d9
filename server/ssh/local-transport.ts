// For a server running on the login node itself. Commands go through /bin/sh like an ssh exec does, so a
// command behaves the same whichever transport carries it.
import { spawn } from 'node:child_process';
import { CommandTimeoutError } from '../errors.js';
import { quoteArgv } from './quote.js';
import type { ExecOptions, ExecResult, Transport } from './transport.js';

export function createLocalTransport(cluster: { name: string; commandTimeoutMs: number }): Transport {
  const running = new Set<ReturnType<typeof spawn>>();
  return {
    exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
      const command = quoteArgv(argv);
      const timeoutMs = options.timeoutMs ?? cluster.commandTimeoutMs;
      const started = performance.now();
      return new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
        running.add(child);
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
        child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', (error) => {
          clearTimeout(timer);
          running.delete(child);
          reject(error);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          running.delete(child);
          if (timedOut) {
            reject(new CommandTimeoutError(`${cluster.name}: ${argv[0]} did not finish within ${timeoutMs} ms`));
            return;
          }
          resolve({
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
            exitCode: code,
            durationMs: performance.now() - started,
          });
        });
        child.stdin.end(options.stdin ?? '');
      });
    },
    async close() {
      for (const child of running) child.kill('SIGKILL');
    },
  };
}
