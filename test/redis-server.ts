// A real redis-server of the suite's own, on a free loopback port, with nothing written to disk; stopped by stop().
// Debian's binary (bash test/redis.sh up installs it); no system daemon is used.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from './free-port.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Resolves once the server accepts connections; rejects with its own output if it exits or does not start in 10 s. */
export async function startRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: run \`bash test/redis.sh up\` as root`);
  const port = await freePort();
  // --save '' and --appendonly no: no snapshot or log files; --dir keeps any file redis might still make out of the repo.
  const server = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A runner that ends without calling stop() (a crash, a failed hook) must not leave the server behind.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not become ready in 10 s'), 10_000);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? `code ${code}`})`);
    const onError = (error: Error) => fail(`could not be started (${error.message})`);
    function settle() {
      clearTimeout(timer);
      server.off('exit', onExit).off('error', onError);
    }
    function fail(why: string) {
      settle();
      server.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} ${why}:\n${output}`));
    }
    // Read to the end, not only until ready: a pipe nobody drains would block the server once full.
    const read = (data: Buffer) => {
      output += data.toString();
      if (output.includes('Ready to accept connections')) {
        settle();
        resolve();
      }
    };
    server.stdout.on('data', read);
    server.stderr.on('data', read);
    server.once('exit', onExit);
    server.once('error', onError);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      process.off('exit', killOnExit);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
      await exited;
    },
  };
}
