import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobRow } from '../../test/factories.js';
import { appendChunk, logFromTail, logText } from '../../client/src/lib/log.js';
import type { ClusterService } from '../clusters/service.js';
import { initOrm, type Orm } from '../db/orm.js';
import { LogTailLimitError } from '../errors.js';
import { createLogFollower, maxLogTails } from './live-log.js';
import { snapshot } from './transitions.js';
import { createEvents, type JobLogChunk } from '../events.js';
import type { StreamingTransport, StreamOptions } from '../ssh/transport.js';

// A job's live log through the follower, with a transport whose `tail -F` the test writes into.
describe('the live log follower', () => {
  let orm: Orm;
  let jobId: number;
  let otherJobId: number;
  let write: (text: string) => void;
  let follower: ReturnType<typeof createLogFollower>;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const em = orm.em.fork();
    const job = createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: '42' });
    await em.flush();
    jobId = job.id;
    const streamed = new Promise<StreamOptions>((resolve) => {
      const transport: Pick<StreamingTransport, 'stream'> = {
        stream: async (_argv, options) => {
          resolve(options);
          return { stop: () => undefined, done: new Promise(() => undefined) };
        },
      };
      // Four channels: one live log at a time on this cluster.
      follower = createLogFollower({ orm, clusters: { transport: () => transport, config: () => ({ maxChannels: 4 }) } as unknown as ClusterService, events: createEvents() });
    });
    write = (text) => void streamed.then((options) => options.onStdout(text));
    const other = createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: '43' });
    await em.flush();
    otherJobId = other.id;
  });
  afterAll(async () => {
    follower.close();
    await orm.close();
  });

  it('sends an unfinished progress line as it stands, and the app shows each bar once, in its latest state', async () => {
    const chunks: JobLogChunk[] = [];
    void (async () => {
      for await (const chunk of follower.follow(jobId, 0)) chunks.push(chunk as JobLogChunk);
    })();
    const next = async (count: number) => {
      const deadline = Date.now() + 2000;
      while (chunks.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return chunks[count - 1];
    };

    write('loading data\nEpoch 1:  10%|█         | 1/10\rEpoch 1:  20%|██        | 2/10');
    expect(await next(1)).toEqual({ jobId, fromByte: 0, text: 'loading data\nEpoch 1:  20%|██        | 2/10' });

    write('\rEpoch 1: 100%|██████████| 10/10\nval_loss=0.12\n');
    const second = await next(2);
    expect(second?.text).toBe('Epoch 1: 100%|██████████| 10/10\nval_loss=0.12\n');
    // Offsets count the bytes written, \r states and multi-byte bars included.
    expect(second?.fromByte).toBe(Buffer.byteLength('loading data\nEpoch 1:  10%|█         | 1/10\rEpoch 1:  20%|██        | 2/10'));

    let model = logFromTail('', 0);
    for (const chunk of chunks) model = appendChunk(model, chunk);
    expect(logText(model)).toBe('loading data\nEpoch 1: 100%|██████████| 10/10\nval_loss=0.12\n');
  });

  it("refuses a live log past the cluster's limit with a typed error, while a followed job's watchers share its tail", async () => {
    // The first test's watcher still follows its job: the cluster's one live log.
    expect(maxLogTails(4)).toBe(1);
    const refused = follower.follow(otherJobId, null);
    // The refusal is the stream's one event, a typed error, then the stream ends.
    const refusal = await refused.next();
    expect(refusal.value).toBeInstanceOf(LogTailLimitError);
    expect(refusal.value).toMatchObject({ cluster: 'lab', following: 1, message: expect.stringContaining('close another job') });
    expect(await refused.next()).toMatchObject({ done: true });
    // A second watcher of the job already followed shares its tail and is not refused.
    const sharing = follower.follow(jobId, null);
    const shared = sharing.next();
    write('epoch 2\n');
    await expect(shared).resolves.toMatchObject({ value: { text: 'epoch 2\n' } });
    await sharing.return(undefined);
  });
});

// graphql-ws, SSE and graphql-js all leave the same way: a next() waits for the job's next line, then return().
describe('a watcher leaving a quiet job', () => {
  let orm: Orm;
  const jobIds: number[] = [];
  /** One entry per remote tail started, with the moment it was stopped. */
  let tails: Array<{ argv: readonly string[]; stoppedAt: number | null }>;
  let follower: ReturnType<typeof createLogFollower>;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const em = orm.em.fork();
    const jobs = [1, 2, 3, 4, 5].map((index) => createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: String(100 + index) }));
    await em.flush();
    jobIds.push(...jobs.map((job) => job.id));
  });
  beforeEach(() => {
    tails = [];
    const transport: Pick<StreamingTransport, 'stream'> = {
      stream: async (argv) => {
        const tail = { argv, stoppedAt: null as number | null };
        tails.push(tail);
        // A quiet job: the tail never prints, and ends only when stopped.
        return { stop: () => void (tail.stoppedAt ??= Date.now()), done: new Promise(() => undefined) };
      },
    };
    // Six channels: three live logs at once on this cluster.
    follower = createLogFollower({ orm, clusters: { transport: () => transport, config: () => ({ maxChannels: 6 }) } as unknown as ClusterService, events: createEvents() });
  });
  afterEach(() => follower.close());
  afterAll(async () => {
    await orm.close();
  });

  /** A watcher whose next() waits, as a subscription's does, until its remote tail has started. */
  async function watch(jobId: number) {
    const watcher = follower.follow(jobId, null);
    const waiting = watcher.next();
    const started = tails.length;
    await expect.poll(() => tails.length, { timeout: 1000, interval: 5 }).toBeGreaterThan(started);
    return { watcher, waiting, tail: tails.at(-1)! };
  }

  it('stops its remote tail within a second, and its waiting next() ends', async () => {
    const { watcher, waiting, tail } = await watch(jobIds[0]!);
    const leftAt = Date.now();
    void watcher.return(undefined);
    await expect.poll(() => tail.stoppedAt, { timeout: 1000, interval: 5 }).not.toBeNull();
    expect(tail.stoppedAt! - leftAt).toBeLessThan(1000);
    await expect(waiting).resolves.toMatchObject({ done: true });
  });

  it('keeps a shared tail until its last watcher leaves', async () => {
    const first = await watch(jobIds[0]!);
    const second = follower.follow(jobIds[0]!, null);
    const secondWaiting = second.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tails).toHaveLength(1);
    await first.watcher.return(undefined);
    expect(first.tail.stoppedAt).toBeNull();
    await second.return(undefined);
    expect(first.tail.stoppedAt).not.toBeNull();
    await expect(secondWaiting).resolves.toMatchObject({ done: true });
  });

  it('gives the channel back: after watchers of more jobs than the limit left, a new watcher is not refused', async () => {
    expect(maxLogTails(6)).toBe(3);
    for (const jobId of jobIds.slice(0, 4)) {
      const { watcher } = await watch(jobId);
      await watcher.return(undefined);
    }
    const { watcher, tail } = await watch(jobIds[4]!);
    expect(tail.argv).toContain('-F');
    expect(tails.every((other) => other === tail || other.stoppedAt !== null)).toBe(true);
    await watcher.return(undefined);
  });
});

// The schema promises the output, then completion: a watcher of a running job is completed once the job ends.
describe('a watcher of a job that ends', () => {
  it('gets the output written before the end, then its stream completes', async () => {
    const orm = await initOrm(':memory:');
    const em = orm.em.fork();
    const job = createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: '77' });
    await em.flush();
    let write: (text: string) => void = () => undefined;
    let started = false;
    let stopped = false;
    const transport: Pick<StreamingTransport, 'stream'> = {
      stream: async (_argv, options) => {
        write = options.onStdout;
        started = true;
        return { stop: () => void (stopped = true), done: new Promise(() => undefined) };
      },
    };
    const events = createEvents();
    const follower = createLogFollower({ orm, clusters: { transport: () => transport, config: () => ({ maxChannels: 6 }) } as unknown as ClusterService, events });
    const chunks: string[] = [];
    const completed = (async () => {
      for await (const chunk of follower.follow(job.id, 0)) chunks.push((chunk as JobLogChunk).text);
      return Date.now();
    })();
    await expect.poll(() => started).toBe(true);
    write('epoch 3 loss=0.1\ndone\n');
    await expect.poll(() => chunks).toEqual(['epoch 3 loss=0.1\ndone\n']);
    const endedAt = Date.now();
    events.publish('job:updated', { ...snapshot(job), state: 'COMPLETED' });
    // The tail stops 2 s after the end (late output still arrives); the stream completes with it.
    const doneAt = await Promise.race([completed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
    expect(doneAt).not.toBeNull();
    expect(doneAt! - endedAt).toBeGreaterThanOrEqual(1900);
    expect(stopped).toBe(true);
    follower.close();
    await orm.close();
  });
});
