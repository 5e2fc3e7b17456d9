// One leader among replicas, on a real PostgreSQL: never two at once, and a takeover within retryMs when the leader
// stops, loses its connection, is cut off, or is killed with SIGKILL. The embedded server is always its own leader.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { testDatabase, testEngine } from '../../test/database-engine.js';
import { ConfigError } from '../errors.js';
import { captureLogs } from '../lib/log.js';
import { createLeaderLock, leaderLockFor, type LeaderLock, type LeaderLockOptions } from './leader-lock.js';
import { initOrm } from './orm.js';

const RETRY_MS = 100;
/** Beyond retryMs, what a takeover may take on a busy test machine (the round trips, the scheduler). */
const MARGIN_MS = 1_000;
/** The lock's statement timeout (leader-lock.ts): how long a fence may wait on a connection that does not answer. */
const FENCE_TIMEOUT_MS = 2_000;

/** A lock and what it told its caller, stopped after each test. */
interface Replica {
  lock: LeaderLock;
  told: string[];
}

const replicas: Replica[] = [];
let logs: ReturnType<typeof captureLogs>;
beforeEach(() => {
  logs = captureLogs('info');
});
afterEach(async () => {
  await Promise.all(replicas.splice(0).map(({ lock }) => lock.stop()));
  logs.stop();
});

function replica(make: (options: LeaderLockOptions) => LeaderLock): Replica {
  const told: string[] = [];
  const lock = make({ retryMs: RETRY_MS, onAcquired: () => void told.push('acquired'), onLost: (reason) => void told.push(`lost: ${reason}`) });
  const made = { lock, told };
  replicas.push(made);
  return made;
}

/** Samples isLeader() of every replica every 2 ms until stopped: how often it looked, and how often two led at once. */
function sampleLeaders(watched: Replica[]) {
  let samples = 0;
  let twoAtOnce = 0;
  const timer = setInterval(() => {
    samples += 1;
    if (watched.filter(({ lock }) => lock.isLeader()).length > 1) twoAtOnce += 1;
  }, 2);
  return {
    stop() {
      clearInterval(timer);
      return { samples, twoAtOnce };
    },
  };
}

/** Milliseconds from now until `next` leads; fails after `withinMs`. */
async function takeover(next: Replica, withinMs: number): Promise<number> {
  const from = performance.now();
  await vi.waitFor(() => expect(next.lock.isLeader()).toBe(true), { timeout: withinMs, interval: 2 });
  return Math.round(performance.now() - from);
}

/** The one backend holding an advisory lock in `database`, seen from a third connection. */
async function holderPid(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>(
    `select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = $1)`,
    [database],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.pid;
}

/**
 * A TCP relay to PostgreSQL that can go silent as a cut network does: frozen, it passes no bytes either way and
 * keeps both sockets open (the server goes on holding the session and its lock); cut, it closes them.
 */
async function relayTo(url: string) {
  const target = new URL(url);
  const pairs: Array<[Socket, Socket]> = [];
  const server = createServer((inbound) => {
    const outbound = createConnection(Number(target.port || 5432), target.hostname);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    for (const socket of [inbound, outbound]) socket.on('error', () => undefined);
    pairs.push([inbound, outbound]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const relayed = new URL(url);
  relayed.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: relayed.toString(),
    /** Stops relaying: no bytes pass, no socket closes, no new connection is taken. */
    freeze() {
      server.close();
      for (const [inbound, outbound] of pairs) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.pause();
        outbound.pause();
      }
    },
    cut() {
      for (const pair of pairs) for (const socket of pair) socket.destroy();
    },
  };
}

describe.skipIf(testEngine !== 'postgresql')('the leader lock on PostgreSQL', () => {
  // One database for the cases (each stops its replicas after it), since each database dropped at the end costs a
  // checkpoint; a second one for the case about another database.
  let url: string;
  beforeAll(async () => {
    url = await testDatabase(':memory:', initOrm);
  });
  const databaseName = (target: string) => new URL(target).pathname.slice(1);
  const onPostgres = (target: string) => () => replica((options) => createLeaderLock({ ...options, url: target }));

  it('lets exactly one of two replicas on one database lead, and only the leader passes the fence', async () => {
    const [first, second] = [onPostgres(url)(), onPostgres(url)()];
    await Promise.all([first.lock.start(), second.lock.start()]);
    // Several follower tries later, still one.
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS * 4));
    const leaders = [first, second].filter(({ lock }) => lock.isLeader());
    expect(leaders).toHaveLength(1);
    const [leader, follower] = leaders[0] === first ? [first, second] : [second, first];
    expect(await leader.lock.fence()).toBe(true);
    expect(await follower.lock.fence()).toBe(false);
    expect(leader.told).toEqual(['acquired']);
    expect(follower.told).toEqual([]);
  });

  it('hands over within retryMs when the leader stops, never two leading meanwhile', async () => {
    const leader = onPostgres(url)();
    await leader.lock.start();
    const follower = onPostgres(url)();
    await follower.lock.start();
    expect([leader.lock.isLeader(), follower.lock.isLeader()]).toEqual([true, false]);

    const sampler = sampleLeaders([leader, follower]);
    const stopping = leader.lock.stop();
    const handover = await takeover(follower, RETRY_MS + MARGIN_MS);
    await stopping;
    const { samples, twoAtOnce } = sampler.stop();
    console.log(`leader lock: handover after stop() in ${handover} ms (retryMs ${RETRY_MS}, ${samples} samples)`);
    expect(samples).toBeGreaterThan(5);
    expect(twoAtOnce).toBe(0);
    expect(leader.told).toEqual(['acquired', 'lost: stopped']);
    expect(follower.told).toEqual(['acquired']);
    expect(await follower.lock.fence()).toBe(true);
  });

  it("steps down at once when its backend is terminated, the other takes over, and it comes back as a follower", async () => {
    const leader = onPostgres(url)();
    await leader.lock.start();
    const follower = onPostgres(url)();
    await follower.lock.start();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const sampler = sampleLeaders([leader, follower]);
      await admin.query('select pg_terminate_backend($1)', [await holderPid(admin, databaseName(url))]);
      // Told by the connection's own error, before any fence asks.
      await vi.waitFor(() => expect(leader.told).toEqual(['acquired', expect.stringMatching(/^lost: the lock's connection (failed: terminating connection due to administrator command|closed)$/)]), { timeout: MARGIN_MS, interval: 2 });
      expect(leader.lock.isLeader()).toBe(false);
      expect(await leader.lock.fence()).toBe(false);
      const handover = await takeover(follower, RETRY_MS + MARGIN_MS);
      const { samples, twoAtOnce } = sampler.stop();
      console.log(`leader lock: handover after pg_terminate_backend in ${handover} ms (retryMs ${RETRY_MS}, ${samples} samples)`);
      expect(twoAtOnce).toBe(0);
      expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'leader lock: no longer the leader' }));

      // The old leader reconnected and tries again: it leads once the new leader goes.
      await follower.lock.stop();
      await takeover(leader, RETRY_MS + MARGIN_MS);
      expect(leader.told).toHaveLength(3);
      expect(await leader.lock.fence()).toBe(true);
    } finally {
      await admin.end();
    }
  });

  it('steps down at its fence when the network to the database goes silent, while the database still holds its lock', async () => {
    const relay = await relayTo(url);
    // Cut in any case: a frozen session would hold the lock of the database the next cases share.
    try {
      const leader = onPostgres(relay.url)();
      await leader.lock.start();
      const follower = onPostgres(url)();
      await follower.lock.start();
      expect(leader.lock.isLeader()).toBe(true);

      const sampler = sampleLeaders([leader, follower]);
      relay.freeze();
      const from = performance.now();
      expect(await leader.lock.fence()).toBe(false);
      const fenced = Math.round(performance.now() - from);
      expect(fenced).toBeLessThan(FENCE_TIMEOUT_MS + MARGIN_MS);
      expect(leader.lock.isLeader()).toBe(false);
      expect(leader.told).toEqual(['acquired', 'lost: the fence check failed: Query read timeout']);
      // The silent session still holds the lock: the follower must wait, not lead beside a leader that might not know.
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS * 5));
      expect(follower.lock.isLeader()).toBe(false);

      // Once the database sees the connection gone, the follower leads.
      relay.cut();
      const handover = await takeover(follower, RETRY_MS + MARGIN_MS);
      const { twoAtOnce } = sampler.stop();
      console.log(`leader lock: fence failed after ${fenced} ms of silence; handover ${handover} ms after the connection closed`);
      expect(twoAtOnce).toBe(0);
    } finally {
      relay.cut();
    }
  });

  it('does not contend with a server on another database', async () => {
    const [one, other] = [onPostgres(url)(), onPostgres(await testDatabase(':memory:', initOrm))()];
    await Promise.all([one.lock.start(), other.lock.start()]);
    expect([one.lock.isLeader(), other.lock.isLeader()]).toEqual([true, true]);
  });

  it('gives a postgresql:// target the advisory lock', async () => {
    const [first, second] = [replica((options) => leaderLockFor(url, options)), replica((options) => leaderLockFor(url, options))];
    await first.lock.start();
    await second.lock.start();
    expect([first.lock.isLeader(), second.lock.isLeader()]).toEqual([true, false]);
  });

  it('is taken over within retryMs when the leader process is killed with SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../test/leader-child.ts'), url, String(RETRY_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    try {
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
      // A child node with tsx takes seconds to load on a busy machine.
      await vi.waitFor(() => expect(lines).toEqual(['leader']), { timeout: 30_000, interval: 20 });
      const follower = onPostgres(url)();
      await follower.lock.start();
      expect(follower.lock.isLeader()).toBe(false);

      child.kill('SIGKILL');
      const handover = await takeover(follower, RETRY_MS + MARGIN_MS);
      console.log(`leader lock: handover after SIGKILL of the leader process in ${handover} ms (retryMs ${RETRY_MS})`);
      expect(await exited).toEqual([null, 'SIGKILL']);
      expect(await follower.lock.fence()).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('the leader lock of the embedded server', () => {
  it('is always the leader of a SQLite file, from start to stop', async () => {
    for (const target of [join('/tmp', 'data', 'mission-control.sqlite'), ':memory:']) {
      const sole = replica((options) => leaderLockFor(target, options));
      expect(sole.lock.isLeader()).toBe(false);
      await sole.lock.start();
      await sole.lock.start();
      expect(sole.lock.isLeader()).toBe(true);
      expect(await sole.lock.fence()).toBe(true);
      await sole.lock.stop();
      expect(sole.lock.isLeader()).toBe(false);
      expect(await sole.lock.fence()).toBe(false);
      expect(sole.told).toEqual(['acquired', 'lost: stopped']);
    }
  });

  it('refuses a retry interval that is not a positive number of milliseconds, on either engine', () => {
    const callbacks = { onAcquired: () => undefined, onLost: () => undefined };
    for (const target of [':memory:', 'postgresql://mc@127.0.0.1/none']) {
      for (const retryMs of [0, -5, Number.NaN]) {
        expect(() => leaderLockFor(target, { ...callbacks, retryMs })).toThrow(ConfigError);
      }
    }
  });

  it('tells a callback that fails to the log, and goes on', async () => {
    const lock = leaderLockFor(':memory:', {
      retryMs: RETRY_MS,
      onAcquired: () => Promise.reject(new Error('the poller would not start')),
      onLost: () => undefined,
    });
    await lock.start();
    expect(lock.isLeader()).toBe(true);
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 'error', msg: 'leader lock: onAcquired failed', err: expect.objectContaining({ message: 'the poller would not start' }) }));
    await lock.stop();
  });
});
