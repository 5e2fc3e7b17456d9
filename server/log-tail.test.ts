import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRow } from '../bench/support.js';
import { appendChunk, logFromTail, logText } from '../client/src/lib/log.js';
import type { ClusterService } from './clusters.js';
import { initOrm, type Orm } from './db/orm.js';
import { createLogFollower, maxLogTails } from './log-tail.js';
import { createEvents, type JobLogChunk } from './pubsub.js';
import type { StreamingTransport, StreamOptions } from './ssh/transport.js';

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
      for await (const chunk of follower.follow(jobId, 0)) chunks.push(chunk);
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
    await expect(refused.next()).rejects.toMatchObject({ extensions: { code: 'LOG_TAIL_LIMIT' }, message: expect.stringContaining('close another job') });
    // A second watcher of the job already followed shares its tail and is not refused.
    const sharing = follower.follow(jobId, null);
    const shared = sharing.next();
    write('epoch 2\n');
    await expect(shared).resolves.toMatchObject({ value: { text: 'epoch 2\n' } });
    await sharing.return(undefined);
  });
});
