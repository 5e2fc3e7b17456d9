// The server as its own process (`server/main.ts`), as a service manager runs it: what the group server's suites and
// benches start (replicas, several users), found ready by the address it prints.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr), for a failure's message. */
  output: () => string;
}

/** Starts one on a free loopback port; rejects with what it printed if it exits before listening or takes a minute. */
export async function startServerProcess(args: string[], name = 'the server'): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const found = /running at (http:\/\/\S+)/.exec(output)?.[1];
      if (found) {
        clearInterval(timer);
        resolve(found);
      } else if (Date.now() - started > 60_000) {
        clearInterval(timer);
        child.kill('SIGKILL');
        reject(new Error(`${name} did not listen within a minute:\n${output}`));
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}
