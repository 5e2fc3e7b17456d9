// The event bus on one process and across replicas: two buses, each with its own pair of connections to a real
// redis-server, stand for two replicas behind a load balancer.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../test/redis-server.js';
import type { GpuAvailability } from './clusters/gpu.js';
import { createEvents, createRedisClients, DEFAULT_CHANNEL_PREFIX, eventSerializer, type JobLogChunk, type JobSnapshot, type PubSub } from './events.js';
import { captureLogs } from './lib/log.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A job snapshot as transitions.ts publishes it: a plain object whose times are Dates. */
function job(id: number): JobSnapshot {
  return { id, state: 'RUNNING', createdAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)), startedAt: new Date(Date.UTC(2025, 0, 2, 3, 5)), endedAt: null } as unknown as JobSnapshot;
}

function gpu(cluster: string): GpuAvailability {
  return { cluster, fetchedAt: new Date(Date.UTC(2025, 5, 1)), stale: false, lastError: null, refreshLimitedUntil: null } as unknown as GpuAvailability;
}

const stops: Array<() => unknown> = [];

/** Every value a subscription yields, from now until the test ends. */
function collect<T>(subscription: AsyncIterable<T>): T[] {
  const values: T[] = [];
  const iterator = subscription[Symbol.asyncIterator]();
  // The first next() starts the subscription (adds its listener) before this function returns.
  void (async () => {
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) values.push(step.value);
  })();
  stops.push(() => iterator.return?.());
  return values;
}

async function stopSubscriptions(): Promise<void> {
  await Promise.all(stops.splice(0).map((stop) => stop()));
}

afterEach(stopSubscriptions);

describe('the embedded bus (no Redis)', () => {
  it("delivers an event to the process's subscribers as it was published", async () => {
    const events = createEvents();
    const updates = collect(events.subscribe('job:updated'));
    const published = job(1);
    events.publish('job:updated', published);
    await expect.poll(() => updates.length).toBe(1);
    expect(updates[0]).toBe(published);
  });

  it('does not load ioredis; the group server path loads it when asked', () => {
    // ioredis is CommonJS: imported from ESM it still goes through the CommonJS loader and its cache.
    const loadsIoredis = (afterCreate: string) => {
      const script = `const { createEvents, createRedisClients } = await import('./server/events.ts');
createEvents();
${afterCreate}
const { createRequire } = await import('node:module');
console.log('ioredis loaded: ' + Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/ioredis/')));`;
      const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      return /^ioredis loaded: (\w+)$/m.exec(output)?.[1];
    };
    expect(loadsIoredis('')).toBe('false');
    // The check does see ioredis once it is loaded, so the line above cannot pass by accident.
    expect(loadsIoredis(`const clients = await createRedisClients('redis://127.0.0.1:1');
clients.publishClient.disconnect();
clients.subscribeClient.disconnect();`)).toBe('true');
  }, 30_000);
});

describe('the bus across replicas (a real redis-server)', () => {
  let server: RedisServer;
  /** Asks Redis what it holds, and publishes as a stranger would. */
  let observer: Redis;
  let a: Replica;
  let b: Replica;

  interface Replica {
    events: PubSub;
    clients: Awaited<ReturnType<typeof createRedisClients>>;
  }
  const replicas: Replica[] = [];

  async function replica(origin: string): Promise<Replica> {
    const clients = await createRedisClients(server.url);
    const made = { clients, events: createEvents({ redis: clients, origin }) };
    replicas.push(made);
    return made;
  }

  const channel = (topic: string) => DEFAULT_CHANNEL_PREFIX + topic;

  async function subscribers(topic: string): Promise<number> {
    const [, count] = (await observer.pubsub('NUMSUB', channel(topic))) as [string, number];
    return count;
  }

  afterEach(async () => {
    // The next test counts a topic's subscribers: the UNSUBSCRIBEs of this one's must have reached Redis first.
    await stopSubscriptions();
    await expect.poll(() => observer.pubsub('CHANNELS')).toEqual([]);
  });

  beforeAll(async () => {
    server = await startRedisServer();
    observer = new Redis(server.url);
    a = await replica('replica-a');
    b = await replica('replica-b');
  });

  afterAll(async () => {
    try {
      for (const { events, clients } of replicas) {
        events.close();
        await clients.quit();
      }
      await observer?.quit();
    } finally {
      await server?.stop();
    }
  });

  it("delivers an event published on A to B with its Dates as Dates, and to A's own subscribers once", async () => {
    const onA = collect(a.events.subscribe('job:updated'));
    const onB = collect(b.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(2);

    a.events.publish('job:updated', job(1));
    await expect.poll(() => onB.length).toBe(1);
    expect(onB[0]).toEqual(job(1));
    expect(onB[0]!.createdAt).toBeInstanceOf(Date);
    expect(onB[0]!.createdAt.toISOString()).toBe('2025-01-02T03:04:05.678Z');

    // B's event reaches A on the same connection that would bring back A's own event, and after it: once A has it,
    // an echo of job 1 would already have been delivered.
    b.events.publish('job:updated', job(2));
    await expect.poll(() => onA.length).toBe(2);
    expect(onA.map((update) => update.id)).toEqual([1, 2]);
    expect(onB.map((update) => update.id)).toEqual([1, 2]);
  });

  it('keeps a job log on the replica that tails it: published on A, received on A only, never sent to Redis', async () => {
    const logOnA = collect(a.events.subscribe('job:log', 7));
    const logOnB = collect(b.events.subscribe('job:log', 7));
    const fenceOnB = collect(b.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(1);
    expect(await observer.pubsub('CHANNELS', channel('job:log*'))).toEqual([]);

    const chunk: JobLogChunk = { jobId: 7, fromByte: 0, text: 'epoch 1 loss=0.5\n' };
    a.events.publish('job:log', 7, chunk);
    // Sent after the chunk on A's one publishing connection: had the chunk gone to Redis, B would have it first.
    a.events.publish('job:updated', job(7));
    await expect.poll(() => fenceOnB.length).toBe(1);
    expect(logOnA).toEqual([chunk]);
    expect(logOnB).toEqual([]);
  });

  it("routes a topic with an id to that id's subscribers only", async () => {
    const labOnB = collect(b.events.subscribe('gpu:availability', 'lab'));
    await expect.poll(() => subscribers('gpu:availability:lab')).toBe(1);

    a.events.publish('gpu:availability', 'other', gpu('other'));
    a.events.publish('gpu:availability', 'lab', gpu('lab'));
    await expect.poll(() => labOnB.length).toBe(1);
    expect(labOnB).toEqual([gpu('lab')]);
    expect(labOnB[0]!.fetchedAt).toBeInstanceOf(Date);
  });

  it('gives a subscriber nothing published before it subscribed: Redis pub/sub keeps nothing (at most once)', async () => {
    a.events.publish('job:updated', job(1));
    // Commands on one connection are answered in order: once PING is answered, Redis has handled the PUBLISH.
    await a.clients.publishClient.ping();
    const onB = collect(b.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(1);

    a.events.publish('job:updated', job(2));
    await expect.poll(() => onB.length).toBe(1);
    expect(onB.map((update) => update.id)).toEqual([2]);
  });

  it('drops a message on its channel that no replica sent (not JSON, or no origin), with a warning, and goes on', async () => {
    const onB = collect(b.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(1);
    const logs = captureLogs('warn');
    try {
      await observer.publish(channel('job:updated'), 'not json');
      await observer.publish(channel('job:updated'), '{"id":3}');
      a.events.publish('job:updated', job(4));
      await expect.poll(() => onB.length).toBe(1);
      expect(onB.map((update) => update.id)).toEqual([4]);
      expect(logs.entries().map((entry) => entry.msg)).toEqual([
        'event bus: a Redis message that is not JSON was dropped',
        'event bus: a Redis message without origin and payload was dropped',
      ]);
    } finally {
      logs.stop();
    }
  });

  it("still delivers a replica's own events to its subscribers when Redis cannot take them, and logs what was not sent", async () => {
    const c = await replica('replica-c');
    const onC = collect(c.events.subscribe('job:updated'));
    c.clients.publishClient.disconnect();
    const logs = captureLogs('warn');
    try {
      c.events.publish('job:updated', job(5));
      await expect.poll(() => onC.length).toBe(1);
      await expect.poll(() => logs.entries().map((entry) => [entry.msg, entry.topic])).toEqual([['event bus: an event was not sent to the other replicas', 'job:updated']]);
    } finally {
      logs.stop();
    }
  });

  it('close() takes the replica off Redis: its subscribers get its own events only, and it sends none', async () => {
    const d = await replica('replica-d');
    const onD = collect(d.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(1);
    d.events.close();
    await expect.poll(() => subscribers('job:updated')).toBe(0);

    const onB = collect(b.events.subscribe('job:updated'));
    await expect.poll(() => subscribers('job:updated')).toBe(1);
    d.events.publish('job:updated', job(6));
    // Had D published, Redis would have handled it before this PING, and B would get job 6 before job 8.
    await d.clients.publishClient.ping();
    a.events.publish('job:updated', job(8));
    await expect.poll(() => onB.length).toBe(1);
    expect(onB.map((update) => update.id)).toEqual([8]);
    expect(onD.map((update) => update.id)).toEqual([6]);
  });

  it('refuses a subscribe client whose commands could fail while Redis is away', () => {
    const publishClient = new Redis(server.url, { lazyConnect: true });
    const subscribeClient = new Redis(server.url, { lazyConnect: true });
    expect(() => createEvents({ redis: { publishClient, subscribeClient } })).toThrow(/maxRetriesPerRequest: null/);
  });
});

describe('eventSerializer', () => {
  it('round-trips Dates nested in objects and arrays, nulls, and plain JSON values', () => {
    const value = {
      at: new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)),
      nested: { list: [new Date(0), { deeper: new Date(Date.UTC(2030, 0, 1)) }, null, 'text', 3] },
      nothing: null,
      isoText: '2025-01-02T03:04:05.678Z',
      empty: [],
    };
    const back = eventSerializer.parse(eventSerializer.stringify(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.at).toBeInstanceOf(Date);
    expect((back.nested.list[1] as { deeper: Date }).deeper).toBeInstanceOf(Date);
    // A string that looks like a date stays a string: only tagged values come back as Dates.
    expect(back.isoText).toBe('2025-01-02T03:04:05.678Z');
  });

  it('round-trips a Date alone and an invalid Date', () => {
    const back = eventSerializer.parse(eventSerializer.stringify(new Date(1234)));
    expect(back).toEqual(new Date(1234));
    expect(Number.isNaN((eventSerializer.parse(eventSerializer.stringify(new Date('no'))) as Date).getTime())).toBe(true);
  });

  it('treats undefined as JSON does: a property is left out, an array element becomes null', () => {
    const back = eventSerializer.parse(eventSerializer.stringify({ gone: undefined, list: [undefined, 1] }));
    expect(back).toStrictEqual({ list: [null, 1] });
  });
});
