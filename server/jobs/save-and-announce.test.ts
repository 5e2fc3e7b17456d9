// Every change of a job's state is saved before it is announced: a subscriber that reads the database the moment it is
// told (as the notifier does) finds the state it was told, for the poller, the lifecycle watcher and the job service.
// Each save is made slow on purpose (a flush waits 100 ms before writing), so an announcement made before its save
// would be read back as the old state. The services are built as server/services.ts builds them; the cluster is a
// fake that answers the poll, and the lifecycle watch runs its real script on this machine over the local transport.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clusterConfig } from '../config.js';
import { Job } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { createServices, type Services } from '../services.js';
import { createLocalTransport } from '../ssh/local-transport.js';
import type { JobState } from '../slurm/state.js';

const MARK = '@@mission-control';
const root = mkdtempSync(join(tmpdir(), 'mc-announce-'));
const local = createLocalTransport({ name: 'local', commandTimeoutMs: 10_000 });

/** What the fake cluster's queue and accounting say, as lines of the poll's output (see slurm/poll.ts). */
let queueLines: string[] = [];
let accountingLines: string[] = [];

let orm: Orm;
let services: Services;
/** Per announcement: the state it told, and the state the database held when the subscriber read it. */
let heard: Array<{ told: JobState; stored: JobState | undefined }> = [];
let stopListening: () => void = () => undefined;

beforeAll(async () => {
  orm = await initOrm(':memory:');
  // Every save takes a while, as on a busy disk.
  orm.em.getEventManager().registerSubscriber({ beforeFlush: () => new Promise((resolve) => setTimeout(resolve, 100)) });
  services = createServices({
    orm,
    config: { file: 'test.yaml', clusters: [clusterConfig('hpc', { host: 'hpc', user: 'me', agent: true, pollIntervalSeconds: 30 })] },
    clusters: {
      transportFactory: () => ({
        async exec(argv) {
          if (argv[0] === 'sh' && argv[2]?.includes('squeue')) {
            return { stdout: `${queueLines.map((line) => `${line}\n`).join('')}${MARK} squeue 0\n${accountingLines.map((line) => `${line}\n`).join('')}${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 5 };
          }
          throw new Error(`the fake cluster got an unexpected command: ${argv.join(' ')}`);
        },
        stream: (argv, options) => local.stream(argv, options),
        close: async () => undefined,
      }),
    },
  });
});

afterAll(async () => {
  await services.close();
  await orm.close();
  await local.close();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  heard = [];
  queueLines = [];
  accountingLines = [];
  const subscription = services.events.subscribe('job:updated');
  stopListening = () => void subscription.return?.();
  void (async () => {
    for await (const job of subscription) {
      // Read at once, as a subscriber does that was just told; no waiting for the writer.
      void orm.em
        .fork()
        .findOne(Job, { id: job.id })
        .then((row) => heard.push({ told: job.state, stored: row?.state }));
    }
  })();
});
afterEach(() => stopListening());

let jobs = 0;
async function addJob(state: JobState, slurmJobId: string): Promise<Job> {
  const em = orm.em.fork();
  const tag = `order${String(++jobs).padStart(7, '0')}`;
  const jobDir = join(root, 'jobs', tag);
  mkdirSync(join(jobDir, 'events'), { recursive: true });
  const now = new Date();
  const job = em.create(Job, {
    tag,
    userId: 1,
    projectId: 1,
    cluster: 'hpc',
    name: tag,
    description: '',
    commitSha: 'a'.repeat(40),
    input: {} as never,
    script: '',
    jobDir,
    slurmJobId,
    state,
    archived: false,
    createdAt: now,
    updatedAt: now,
  });
  await em.flush();
  return job;
}

const stored = async (id: number) => (await orm.em.fork().findOneOrFail(Job, { id })).state;

describe('a job state change is saved before it is announced', () => {
  it('by the poller', async () => {
    const job = await addJob('RUNNING', '501');
    queueLines = [`501|COMPLETED|None|node1|2026-11-23T10:00:00|2026-11-23T10:05:00|5:00|${job.jobDir}/code`];
    accountingLines = ['501|COMPLETED|None|0:0|2026-11-23T10:00:00|2026-11-23T10:05:00|00:05:00|node1|/x'];
    await services.poller.pollNow('hpc');
    await expect.poll(() => heard.length).toBe(1);
    expect(heard).toEqual([{ told: 'COMPLETED', stored: 'COMPLETED' }]);
  });

  it('by the lifecycle watcher, for a start and an end its job script wrote', async () => {
    const job = await addJob('PENDING', '502');
    // The confirming polls after the end find the job still running in the queue: nothing more to announce.
    queueLines = [`502|RUNNING|None|node1|2026-11-23T10:00:00|NONE|0:05|${job.jobDir}/code`];
    await services.lifecycle.start();
    writeFileSync(join(job.jobDir, 'events', 'started'), `${Math.floor(Date.now() / 1000)} node1 502\n`);
    await expect.poll(() => heard.length, { timeout: 5000 }).toBe(1);
    writeFileSync(join(job.jobDir, 'events', 'finished'), `${Math.floor(Date.now() / 1000)} node1 0\n`);
    await expect.poll(() => heard.length, { timeout: 5000 }).toBe(2);
    expect(heard).toEqual([
      { told: 'RUNNING', stored: 'RUNNING' },
      { told: 'COMPLETING', stored: 'COMPLETING' },
    ]);
    services.lifecycle.stop();
  });

  it('by the job service (a refresh)', async () => {
    const job = await addJob('PENDING', '503');
    queueLines = [`503|RUNNING|None|node1|2026-11-23T10:00:00|NONE|0:05|${job.jobDir}/code`];
    const refreshed = await services.jobs.refresh(orm.em.fork(), job.id);
    expect(refreshed.state).toBe('RUNNING');
    await expect.poll(() => heard.length).toBe(1);
    expect(heard).toEqual([{ told: 'RUNNING', stored: 'RUNNING' }]);
    expect(await stored(job.id)).toBe('RUNNING');
  });
});
