// Running a local program (the system ssh, or /bin/sh for the local transport) without a local shell in
// between: argv goes to spawn as an array. Shared by the transports that work through child processes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createStreamDelivery } from './stream-delivery.js';

export interface ProcessResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
}

export interface RunOptions {
  stdin?: string;
  timeoutMs: number;
  /** Own process group, signalled as a whole: a shell's children die with it and do not hold the pipes open. */
  processGroup?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Tracks live children so a transport's close() can end them. */
export type ChildSet = Set<ChildProcessWithoutNullStreams>;

function start(file: string, args: readonly string[], processGroup: boolean, env: NodeJS.ProcessEnv | undefined, children: ChildSet) {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: processGroup, env });
  children.add(child);
  child.on('close', () => children.delete(child));
  const kill = (signal: NodeJS.Signals) => {
    try {
      // The group outlives its leader while a grandchild still runs, so it is signalled even after the exit.
      if (processGroup && child.pid !== undefined) process.kill(-child.pid, signal);
      else if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  return { child, kill };
}

export function runProcess(file: string, args: readonly string[], options: RunOptions, children: ChildSet): Promise<ProcessResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const { child, kill } = start(file, args, options.processGroup ?? false, options.env, children);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A child that exits before reading its input makes the write fail with EPIPE; its exit status says more.
    child.stdin.on('error', () => {});
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode,
        signal,
        timedOut,
        durationMs: performance.now() - started,
      });
    };
    // Normally the result waits for the pipes to drain ('close'). A process killed at its timeout may have left
    // a child holding them open for as long as that child lives, so its exit is enough.
    child.on('exit', (exitCode, signal) => {
      if (!timedOut) return;
      finish(exitCode, signal);
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.on('close', finish);
    child.stdin.end(options.stdin ?? '');
  });
}

export interface ProcessStreamOptions {
  onStdout: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  processGroup?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Sent by stop(); SIGKILL follows after killAfterMs if the process is still there. */
  stopSignal?: NodeJS.Signals;
  killAfterMs?: number;
}

export interface ProcessStream {
  child: ChildProcessWithoutNullStreams;
  stop(): void;
  readonly stopped: boolean;
  /** Settles once the process has exited and its output is drained; never rejects. */
  ended: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; error: Error | null }>;
}

/**
 * Starts a long-running process whose output is handed over as it arrives. Resolves once the process is running,
 * rejects if it could not be started (no such program).
 */
export function streamProcess(file: string, args: readonly string[], options: ProcessStreamOptions, children: ChildSet): Promise<ProcessStream> {
  const { child, kill } = start(file, args, options.processGroup ?? false, options.env, children);
  child.stdin.on('error', () => {});
  child.stdin.end();
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    kill(options.stopSignal ?? 'SIGTERM');
    killTimer = setTimeout(() => kill('SIGKILL'), options.killAfterMs ?? 2000);
    killTimer.unref();
  };
  const delivery = createStreamDelivery(options, stop);
  child.stdout.on('data', delivery.stdout);
  child.stderr.on('data', delivery.stderr);
  const ended = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; error: Error | null }>((resolve) => {
    let finished = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(killTimer);
      resolve({ exitCode, signal, error: delivery.end() });
    };
    // As in runProcess: once stopped, the exit is the end, whoever still holds the pipes.
    child.on('exit', (exitCode, signal) => {
      if (!stopped) return;
      finish(exitCode, signal);
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.on('close', finish);
  });
  return new Promise((resolve, reject) => {
    child.once('spawn', () =>
      resolve({
        child,
        stop,
        get stopped() {
          return stopped;
        },
        ended,
      }),
    );
    child.on('error', (error) => {
      if (child.pid === undefined) reject(error);
    });
  });
}
