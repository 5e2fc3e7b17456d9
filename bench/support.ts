// What the lab benchmarks share: a shell on the lab, a transport that counts what it sends and receives, a TCP
// proxy that counts the bytes on the wire, slurmctld's RPC counter, and job rows written straight to the database.
import { execFile, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EntityManager } from '@mikro-orm/knex';
import type { Job } from '../server/db/entities.js';
import { quoteArgv } from '../server/ssh/quote.js';
import type { ExecOptions, StreamingTransport, StreamOptions } from '../server/ssh/transport.js';
import { createJobRow as createTestJobRow, type JobRowFields } from '../test/factories.js';
import type { Lab } from '../test/lab/lab-env.js';
import type { ProxyCounts } from './counting-proxy.js';

/** A unique prefix for the names of this run's SLURM jobs and files: cleanup touches nothing else. */
export const RUN_ID = `mcbench-${randomBytes(3).toString('hex')}`;

export interface ShellResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface LabShellOptions {
  timeoutMs?: number;
  stdin?: string;
  /** Another lab account to run as (lab.otherUser), with its own key: each key logs in as its own account only. */
  as?: { user: string; identityFile: string };
}

/** A shell command on the lab as its user (or `as`), through the system ssh (not the transport under test). */
export function labShell(lab: Lab, script: string, { timeoutMs = 300_000, stdin, as = lab }: LabShellOptions = {}): Promise<ShellResult> {
  const args = ['-i', as.identityFile, '-p', String(lab.port), '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'BatchMode=yes', `${as.user}@${lab.host}`, script];
  return new Promise((resolve) => {
    const child = execFile('ssh', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? null) : 0 });
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** Like labShell, but a failure is an error. */
export async function labRun(lab: Lab, script: string, options: LabShellOptions = {}): Promise<string> {
  const result = await labShell(lab, script, options);
  if (result.code !== 0) throw new Error(`on the lab as ${(options.as ?? lab).user}: ${script.slice(0, 120)}… exited ${result.code}: ${result.stderr.trim().slice(-500)}`);
  return result.stdout;
}

export interface Traffic {
  /** exec calls (each one remote command). */
  commands: number;
  /** stream calls (long-running remote commands). */
  streams: number;
  /** Bytes of the command lines sent, plus stdin. */
  sentBytes: number;
  /** stdout + stderr received. */
  receivedBytes: number;
  /** exec calls by their first word (squeue, sacct, sh …). */
  byProgram: Map<string, number>;
}

export const emptyTraffic = (): Traffic => ({ commands: 0, streams: 0, sentBytes: 0, receivedBytes: 0, byProgram: new Map() });

// The wrappers that count SLURM's programs inside our one command: shared with the lab tests, so kept in test/.
export { WRAPPERS_SCRIPT } from '../test/lab/slurm-call-wrappers.js';

/** Wraps a transport and counts every command and byte of payload that passes through it. */
export function meteredTransport(inner: StreamingTransport) {
  let traffic = emptyTraffic();
  const transport: StreamingTransport = {
    async exec(argv: readonly string[], options?: ExecOptions) {
      traffic.commands++;
      traffic.byProgram.set(argv[0]!, (traffic.byProgram.get(argv[0]!) ?? 0) + 1);
      traffic.sentBytes += Buffer.byteLength(quoteArgv(argv)) + Buffer.byteLength(options?.stdin ?? '');
      const result = await inner.exec(argv, options);
      traffic.receivedBytes += Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr);
      return result;
    },
    stream(argv: readonly string[], options: StreamOptions) {
      traffic.streams++;
      traffic.sentBytes += Buffer.byteLength(quoteArgv(argv));
      return inner.stream(argv, {
        onStdout: (chunk) => {
          traffic.receivedBytes += Buffer.byteLength(chunk);
          options.onStdout(chunk);
        },
        onStderr: (chunk) => {
          traffic.receivedBytes += Buffer.byteLength(chunk);
          options.onStderr?.(chunk);
        },
      });
    },
    close: () => inner.close(),
  };
  return {
    transport,
    get traffic() {
      return traffic;
    },
    /** Returns what was counted so far and starts again from zero. */
    take(): Traffic {
      const taken = traffic;
      traffic = emptyTraffic();
      return taken;
    },
  };
}

/**
 * A TCP proxy on loopback in front of the lab's sshd that counts the bytes each way: what really crosses the
 * network, SSH handshakes, encryption and channel framing included. It runs in its own process, so forwarding
 * never waits for the benchmark's event loop. A transport pointed at it must pin the host key by fingerprint
 * (known_hosts names the real port).
 */
export async function countingProxy(targetHost: string, targetPort: number) {
  const child = fork(fileURLToPath(new URL('./counting-proxy.ts', import.meta.url)), [targetHost, String(targetPort)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: Array<(message: ProxyCounts) => void> = [];
  child.on('message', (message: ProxyCounts | { port: number }) => {
    if ('total' in message) replies.shift()?.(message);
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`the counting proxy exited with ${code}`)));
  });
  return {
    port,
    /** Bytes and new connections since the last take(). */
    take(): Promise<ProxyCounts> {
      return new Promise((resolve) => {
        replies.push(resolve);
        child.send('take');
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      });
    },
  };
}

/**
 * slurmctld's count of RPCs received from a user, as `sdiag` reports them ("statistics by user"). Read locally as
 * root (the lab runs on this machine), so reading it adds nothing to the user's count. sacct's queries go to
 * slurmdbd and are not in it. null when sdiag cannot be run here.
 */
export async function slurmctldRpcsOf(user: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('sdiag', { encoding: 'utf8', timeout: 15_000 }, (error, stdout) => {
      if (error) return resolve(null);
      const byUser = stdout.slice(stdout.indexOf('statistics by user'));
      const match = new RegExp(`^\\s*${user}\\s+\\(\\s*\\d+\\)\\s+count:(\\d+)`, 'm').exec(byUser);
      resolve(match ? Number(match[1]) : 0);
    });
  });
}

/**
 * The user every bench database starts with (the first admin): its login is the cluster entry's own account, the
 * tokenless loopback reader is this user, and job rows are theirs unless told otherwise.
 */
export const OWNER_ID = 1;

/** A job record as the job service would have stored it after sbatch answered, named after this run. */
export function createJobRow(em: EntityManager, row: JobRowFields): Job {
  const tag = row.tag ?? randomBytes(6).toString('hex');
  return createTestJobRow(em, { name: RUN_ID, jobDir: `/nonexistent/${RUN_ID}/jobs/${tag}`, ...row, tag });
}

export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}

export const ms = (value: number) => (Number.isFinite(value) ? (value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(value >= 10 ? 1 : 2)} ms`) : 'n/a');
export const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(milliseconds >= 10_000 ? 0 : 1)} s`;
export const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Median of a list (the lower middle for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** `count` calls one after the other, after `warmup` unmeasured ones; the time of each in ms. */
export async function timed(call: () => Promise<unknown>, count: number, warmup: number): Promise<number[]> {
  for (let index = 0; index < warmup; index++) await call();
  const times: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

/**
 * A PostgreSQL database of a bench's own, on the server MC_BENCH_POSTGRES_URL names (default: test/postgres.sh's, which
 * `npm run test:all` starts): its URL, and what drops it.
 */
export async function benchPostgresDatabase(name: string): Promise<{ url: string; remove(): Promise<void> }> {
  const admin = process.env.MC_BENCH_POSTGRES_URL ?? execFileSync('bash', ['test/postgres.sh', 'url'], { encoding: 'utf8' }).trim();
  const { default: pg } = await import('pg');
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const database = `${name}_${process.pid}`;
  await run(`drop database if exists "${database}" with (force)`);
  await run(`create database "${database}" template template0 encoding 'UTF8' locale 'C.UTF-8'`);
  const url = new URL(admin);
  url.pathname = `/${database}`;
  return { url: url.toString(), remove: () => run(`drop database if exists "${database}" with (force)`) };
}
