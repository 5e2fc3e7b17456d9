// A job that requeues itself, followed by the lifecycle watcher (its real script on this machine over the local
// transport) and the poller (a fake queue): its script's `requeued` record counts the restart, the EXIT trap's
// `finished` after it does not end the job, and a new watch (a server restart) reading the old run's records again
// neither starts nor ends it. Nothing announced between the runs is a final state or COMPLETING.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterConfig } from '../config.js';
import { Job } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { createServices, type Services } from '../services.js';
import { createLocalTransport } from '../ssh/local-transport.js';
import { createLifecycleWatcher } from './lifecycle.js';

const MARK = '@@mission-control';
const root = mkdtempSync(join(tmpdir(), 'mc-requeue-'));
const local = createLocalTransport({ name: 'local', commandTimeoutMs: 10_000 });
let queueLines: string[] = [];
let orm: Orm;
let services: Services;

beforeAll(async () => {
  orm = await initOrm(':memory:');
  services = createServices({
    orm,
    config: { file: 'test.yaml', clusters: [clusterConfig('hpc', { host: 'hpc', user: 'me', agent: true, pollIntervalSeconds: 30 })] },
    clusters: {
      transportFactory: () => ({
        async exec(argv) {
          if (argv[0] === 'sh' && argv[2]?.includes('squeue')) return { stdout: `${queueLines.map((line) => `${line}\n`).join('')}${MARK} squeue 0\n${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 5 };
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

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
/** SLURM's local time text, as squeue prints it. */
const slurmText = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
const settle = () => new Promise((resolve) => setTimeout(resolve, 2_500));

it("a job's own requeue is one restart; its old run's records, read again, neither end nor start it", { timeout: 30_000 }, async () => {
  const firstStart = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const jobDir = join(root, 'jobs', 'requeue00001');
  const events = join(jobDir, 'events');
  mkdirSync(events, { recursive: true });
  const em = orm.em.fork();
  const job = em.create(Job, { tag: 'requeue00001', userId: 1, projectId: 1, cluster: 'hpc', name: 'resumable', description: '', commitSha: 'a'.repeat(40), input: {} as never, script: '', jobDir, slurmJobId: '4500', state: 'RUNNING', startedAt: firstStart, archived: false, createdAt: firstStart, updatedAt: firstStart });
  await em.flush();
  const told: string[] = [];
  const subscription = services.events.subscribe('job:updated');
  void (async () => {
    for await (const update of subscription) told.push(`${update.state}/${update.restarts}`);
  })();
  const read = () => orm.em.fork().findOneOrFail(Job, { id: job.id });
  queueLines = [`4500|RUNNING|None|node1|${slurmText(firstStart)}|NONE|1:00|${jobDir}/code`];
  writeFileSync(join(events, 'started'), `${epoch(firstStart)} node1 4500\n`);
  await services.lifecycle.start();

  // At its time limit's signal the script writes `requeued 1`, calls scontrol requeue, and its EXIT trap `finished 143`.
  const requeuedAt = new Date(Date.now() - 2_000);
  writeFileSync(join(events, 'requeued'), `${epoch(requeuedAt)} node1 1\n`);
  await expect.poll(async () => (await read()).restarts, { timeout: 5_000 }).toBe(1);
  writeFileSync(join(events, 'finished'), `${epoch(new Date())} node1 143\n`);
  await settle();
  expect((await read()).state).toBe('RUNNING');

  // SLURM shows it back in the queue.
  queueLines = [`4500|PENDING|BeginTime||${slurmText(new Date(Date.now() + 120_000))}|NONE|0:00|${jobDir}/code`];
  await services.poller.pollNow('hpc');
  expect(await read()).toMatchObject({ state: 'PENDING', restarts: 1, startedAt: null, exitCode: null });

  // The server restarts while it waits: a new watch reads the old run's started, requeued and finished again.
  services.lifecycle.stop();
  const again = createLifecycleWatcher({ orm, clusters: services.clusters, events: services.events, pollNow: (cluster) => services.poller.pollNow(cluster) });
  await again.start();
  await settle();
  expect(await read()).toMatchObject({ state: 'PENDING', restarts: 1, startedAt: null, exitCode: null });

  // Its next run: the script's fresh start record is taken.
  writeFileSync(join(events, 'started'), `${epoch(new Date())} node1 4500\n`);
  await expect.poll(async () => (await read()).state, { timeout: 5_000 }).toBe('RUNNING');
  again.stop();
  void subscription.return?.();
  // Announced: the restart while it still runs, (the node the queue names), back in the queue, its next run.
  expect(told.filter((entry, index) => entry !== told[index - 1])).toEqual(['RUNNING/1', 'PENDING/1', 'RUNNING/1']);
  expect((await read()).requeues).toEqual([{ at: new Date(epoch(requeuedAt) * 1000).toISOString(), runStartedAt: firstStart.toISOString(), cause: 'time-limit' }]);
});
