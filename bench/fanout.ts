// Subscription fan-out: 1,000 and 10,000 graphql-ws clients subscribed to jobUpdated on a server in a child process
// (bench/fanout-server.ts); one job change published; delivery time to every client, and the server's RSS per
// subscriber (before the clients vs after, each after a full GC).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Bench, Figure } from './bench.js';
import { kB, percentile } from './bench.js';
import type { FanoutReply, FanoutRequest } from './fanout-server.js';
import { startRedisServer } from '../test/redis-server.js';
import { benchPostgresDatabase, loadAverage, ms, seconds, sleep } from './support.js';

const LEVELS = (process.env.MC_BENCH_FANOUT_LEVELS ?? '1000,10000').split(',').map(Number);
const ROUNDS = 5;
const CONNECT_BATCH = 250;
const P99_GOAL_MS = 250;
const PER_SUBSCRIBER_GOAL = 30 * 1024;

// The app's subscription (client/src/api/jobs.ts, JOB_UPDATED with JOB_SUMMARY_FIELDS).
const SUBSCRIPTION = `subscription JobUpdated($projectId: Int, $jobIds: [Int!]) { jobUpdated(projectId: $projectId, jobIds: $jobIds) {
  id projectId name description tag cluster state slurmState slurmJobId reason exitCode signal nodeList parentId archived wandbUrl
  createdAt submittedAt startedAt endedAt elapsedSeconds submitError } }`;

const now = () => performance.timeOrigin + performance.now();

function startServer(env: Record<string, string> = {}): Promise<{ child: ChildProcess; ready: Extract<FanoutReply, { type: 'ready' }>; ask<T extends FanoutReply['type']>(request: FanoutRequest, type: T): Promise<Extract<FanoutReply, { type: T }>> }> {
  const child = fork(fileURLToPath(new URL('./fanout-server.ts', import.meta.url)), [], { env: { ...process.env, ...env }, execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting: Array<{ type: string; resolve: (reply: FanoutReply) => void }> = [];
  child.on('message', (reply: FanoutReply) => {
    const index = waiting.findIndex((entry) => entry.type === reply.type);
    if (index !== -1) waiting.splice(index, 1)[0]!.resolve(reply);
  });
  const next = <T extends FanoutReply['type']>(type: T) => new Promise<Extract<FanoutReply, { type: T }>>((resolve) => waiting.push({ type, resolve: resolve as (reply: FanoutReply) => void }));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fan-out server exited with ${code}`)));
    void next('ready').then((ready) =>
      resolve({
        child,
        ready,
        ask: (request, type) => {
          const answer = next(type);
          child.send(request);
          return answer;
        },
      }),
    );
  });
}

interface Subscriber {
  socket: WebSocket;
  /** When each `next` message arrived, in order. */
  arrivals: number[];
}

/** A graphql-ws client at the protocol level (graphql-transport-ws): init, subscribe, timestamp every `next`. */
function subscribe(url: string, projectId: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const subscriber: Subscriber = { socket, arrivals: [] };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('message', (data: Buffer) => {
      const at = now();
      // Cheap tests on the raw frame: the clients must not be what is measured.
      if (data.includes('"next"')) subscriber.arrivals.push(at);
      else if (data.includes('"connection_ack"')) {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { projectId } } }));
        resolve(subscriber);
      } else if (data.includes('"error"')) reject(new Error(`subscription refused: ${data.toString().slice(0, 300)}`));
    });
    socket.on('error', reject);
  });
}

async function level(count: number) {
  const server = await startServer();
  const subscribers: Subscriber[] = [];
  try {
    const url = `${server.ready.url.replace('http', 'ws')}/graphql`;
    const before = await server.ask({ type: 'rss' }, 'rss');
    const connectStarted = performance.now();
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      subscribers.push(...(await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, () => subscribe(url, server.ready.projectId)))));
    }
    const connectMs = performance.now() - connectStarted;

    // A first change, unmeasured: when every client has it, every subscription is live on the server.
    const publishAndCollect = async (round: number) => {
      const cpuBefore = (await server.ask({ type: 'cpu' }, 'cpu')).micros;
      const { at } = await server.ask({ type: 'publish' }, 'published');
      for (let waited = 0; subscribers.some((subscriber) => subscriber.arrivals.length <= round); waited += 20) {
        if (waited > 60_000) throw new Error(`round ${round}: ${subscribers.filter((subscriber) => subscriber.arrivals.length <= round).length} of ${count} clients got nothing within 60 s`);
        await sleep(20);
      }
      const cpuMicros = (await server.ask({ type: 'cpu' }, 'cpu')).micros - cpuBefore;
      const sends = (await server.ask({ type: 'sends' }, 'sends')).at;
      return { delivered: subscribers.map((subscriber) => subscriber.arrivals[round]! - at), written: sends.map((sentAt) => sentAt - at), cpuMicros };
    };
    await publishAndCollect(0);
    const after = await server.ask({ type: 'rss' }, 'rss');

    const delivered: number[] = [];
    const written: number[] = [];
    const roundP99: number[] = [];
    const cpuMicros: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await sleep(500);
      const result = await publishAndCollect(round);
      delivered.push(...result.delivered);
      written.push(...result.written);
      roundP99.push(percentile(result.delivered, 99));
      cpuMicros.push(result.cpuMicros);
    }
    return {
      count,
      connectMs,
      rssBefore: before.rss,
      rssAfter: after.rss,
      perSubscriber: (after.rss - before.rss) / count,
      heapPerSubscriber: (after.heapUsed - before.heapUsed) / count,
      delivered,
      written,
      roundP99,
      /** Server CPU time per change (publish to the last client's receipt), median over the changes. */
      cpuMsPerChange: percentile(cpuMicros, 50) / 1000,
    };
  } finally {
    for (const subscriber of subscribers) subscriber.socket.terminate();
    server.child.disconnect();
    await new Promise((resolve) => server.child.once('exit', resolve));
  }
}

/**
 * Two replicas of a group server (issue 21) on one PostgreSQL database and one Redis, `count` clients split evenly over
 * them; each change published on replica A, as its poller would: A's clients hear it from A's own bus, B's through
 * Redis.
 */
async function replicaLevel(count: number) {
  const redis = await startRedisServer();
  const database = await benchPostgresDatabase('mc_bench_fanout');
  const env = { MC_BENCH_DATABASE_URL: database.url, MC_BENCH_REDIS_URL: redis.url };
  const a = await startServer(env);
  const b = await startServer({ ...env, MC_BENCH_JOB_ID: String(a.ready.jobId) });
  const onA: Subscriber[] = [];
  const onB: Subscriber[] = [];
  try {
    const connectStarted = performance.now();
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, count - start);
      onA.push(...(await Promise.all(Array.from({ length: Math.ceil(batch / 2) }, () => subscribe(`${a.ready.url.replace('http', 'ws')}/graphql`, a.ready.projectId)))));
      onB.push(...(await Promise.all(Array.from({ length: Math.floor(batch / 2) }, () => subscribe(`${b.ready.url.replace('http', 'ws')}/graphql`, b.ready.projectId)))));
    }
    const connectMs = performance.now() - connectStarted;
    const everyone = [...onA, ...onB];
    const collect = async (round: number) => {
      const { at } = await a.ask({ type: 'publish' }, 'published');
      for (let waited = 0; everyone.some((subscriber) => subscriber.arrivals.length <= round); waited += 20) {
        if (waited > 60_000) throw new Error(`round ${round}: ${onA.filter((s) => s.arrivals.length <= round).length} on A and ${onB.filter((s) => s.arrivals.length <= round).length} on B got nothing within 60 s`);
        await sleep(20);
      }
      return { a: onA.map((subscriber) => subscriber.arrivals[round]! - at), b: onB.map((subscriber) => subscriber.arrivals[round]! - at) };
    };
    await collect(0);
    const delivered = { a: [] as number[], b: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      await sleep(500);
      const result = await collect(round);
      delivered.a.push(...result.a);
      delivered.b.push(...result.b);
    }
    return { count, connectMs, delivered };
  } finally {
    for (const subscriber of [...onA, ...onB]) subscriber.socket.terminate();
    for (const server of [a, b]) {
      server.child.disconnect();
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
    await redis.stop();
    await database.remove();
  }
}

/** npm run bench -- fanout-replicas: the 10,000 subscribers over two replicas. */
export const replicas: Bench = {
  title: 'Subscription fan-out across two replicas: 10,000 graphql-ws clients split over both, one change published on one',
  async run() {
    const count = LEVELS.at(-1)!;
    const result = await replicaLevel(count);
    const all = [...result.delivered.a, ...result.delivered.b];
    const p99 = percentile(all, 99);
    return {
      figures: [{ label: `delivery of one change to all ${count.toLocaleString('en')} subscribers of two replicas, p50 / p99 (${ROUNDS} changes)`, value: `${ms(percentile(all, 50))} / ${ms(p99)}`, goal: `p99 < ${P99_GOAL_MS} ms`, met: p99 < P99_GOAL_MS }],
      tables: [
        {
          columns: ['subscribers', 'connect + subscribe all', 'on the publishing replica, p50 / p99', 'on the other (through Redis), p50 / p99', 'all, p50 / p99'],
          rows: [
            [
              count.toLocaleString('en'),
              seconds(result.connectMs),
              `${ms(percentile(result.delivered.a, 50))} / ${ms(percentile(result.delivered.a, 99))}`,
              `${ms(percentile(result.delivered.b, 50))} / ${ms(percentile(result.delivered.b, 99))}`,
              `${ms(percentile(all, 50))} / ${ms(p99)}`,
            ],
          ],
        },
      ],
      notes: [
        "Two replicas (each the real app in a child process, as in the fan-out above) on one PostgreSQL database made for the run and a redis-server of the bench's own, both on this machine with the clients: the 2 cores serve two servers, Redis, PostgreSQL and 10,000 clients. Each change is the job's state flipped and saved on replica A and published on A's bus: A delivers it at once and publishes it on Redis, B receives it from Redis (its own echo dropped by A) and delivers it to its half.",
      ],
    };
  },
};

const bench: Bench = {
  title: 'Subscription fan-out: 1,000 and 10,000 graphql-ws clients on jobUpdated',
  async run() {
    const results = [];
    for (const count of LEVELS) {
      results.push(await level(count));
      console.log(`${count} subscribers done (load ${loadAverage()})`);
    }
    const top = results.at(-1)!;
    const p99 = percentile(top.delivered, 99);
    const figures: Figure[] = [
      { label: `delivery of one change to all ${top.count.toLocaleString('en')} subscribers, p50 / p99 (${ROUNDS} changes)`, value: `${ms(percentile(top.delivered, 50))} / ${ms(p99)}`, goal: `p99 < ${P99_GOAL_MS} ms`, met: p99 < P99_GOAL_MS },
      { label: `server RSS per subscriber at ${top.count.toLocaleString('en')}`, value: kB(top.perSubscriber), goal: `< ${kB(PER_SUBSCRIBER_GOAL)}`, met: top.perSubscriber < PER_SUBSCRIBER_GOAL },
      {
        label: 'server CPU time per subscriber per change (independent of other processes)',
        value: `${((top.cpuMsPerChange * 1000) / top.count).toFixed(0)} µs (${ms(top.cpuMsPerChange)} per change at ${top.count.toLocaleString('en')})`,
      },
    ];
    return {
      figures,
      tables: [
        {
          columns: ['subscribers', 'connect + subscribe all', 'server RSS before → after', 'RSS per subscriber', 'JS heap per subscriber', 'server CPU per change', 'written by the server, p50 / p99', 'received by the clients, p50 / p99', 'p99 of each change'],
          rows: results.map((result) => [
            result.count.toLocaleString('en'),
            seconds(result.connectMs),
            `${(result.rssBefore / 2 ** 20).toFixed(0)} → ${(result.rssAfter / 2 ** 20).toFixed(0)} MiB`,
            kB(result.perSubscriber),
            kB(result.heapPerSubscriber),
            ms(result.cpuMsPerChange),
            `${ms(percentile(result.written, 50))} / ${ms(percentile(result.written, 99))}`,
            `${ms(percentile(result.delivered, 50))} / ${ms(percentile(result.delivered, 99))}`,
            result.roundP99.map((value) => ms(value)).join(', '),
          ]),
        },
      ],
      notes: [
        `What limits it: each change is executed once per group of identical subscriptions and its payload serialized once for the group (server/http/shared-subscriptions.ts), so what is left is each subscriber's own message: about ${((top.cpuMsPerChange * 1000) / top.count).toFixed(0)} µs of server CPU per subscriber per change here (all threads, V8's GC helpers included), ${ms(top.cpuMsPerChange)} per change for ${top.count.toLocaleString('en')} subscribers; a p99 under ${P99_GOAL_MS} ms at 10,000 leaves ${Math.floor((P99_GOAL_MS * 1000) / 10_000)} µs. A CPU profile of the server at 10,000 (2026-12-05) puts most of it in the one write to each socket (writev, 15–20 µs a message: on loopback the kernel's work for the receiving client is done in the sender's write, which a phone across a network does not cost), the rest in graphql-ws's per-message promises and the frame; the figures scatter by ±15 % between runs on this shared machine. Memory: a subscriber keeps its socket, graphql-ws's state and a small queue; its EntityManager is forked only if it is used.`,
        "The server is the real app (GraphQL Yoga + graphql-ws on one port, loopback without a token) in a child process; each client is a WebSocket speaking graphql-transport-ws from this process, subscribed with the app's own jobUpdated document (its 22 job fields) for the job's project. A change is the job's state flipped, saved, and published on the event bus as the poller publishes it.",
        `Times run from the publish call to the moment each client's socket handed over the message (clocks of the same machine). "Written by the server" is when graphql-ws called send() for each subscriber: the server's share. Clients and server share the machine's 2 cores, so the clients' own reading is in "received". RSS and heap after three full GCs, before the clients and after they are all subscribed and have had one change. Server CPU per change: the server process's user + system time from the publish to the last client's receipt.`,
      ],
    };
  },
};

export default bench;
