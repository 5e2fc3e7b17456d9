// The notifier as server/services.ts builds it, on a database of its own, pushing to real local HTTP endpoints that
// verify each request's VAPID header and decrypt its RFC 8291 payload (test/push-receiver.ts). The cluster is a fake
// transport that answers only the log tail read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPushReceiver, type PushReceiver, type ReceiverMode } from '../../test/push-receiver.js';
import type { ClusterStatus } from '../clusters/service.js';
import { clusterConfig, defaultServerConfig, type Config, type DestinationConfig, type NotificationsConfig } from '../config.js';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type HttpReceiverMode, type SmtpReceiver } from '../../test/notification-receivers.js';
import { Job, type Project, PushNotice, PushSubscription, ServerSetting, Sweep } from '../db/entities.js';
import { insertProject, jobInput } from '../../test/factories.js';
import { initOrm, type Orm } from '../db/orm.js';
import { dialectOf } from '../db/sql-dialect.js';
import { sqlNumber } from '../metrics/service.js';
import type { JobInput } from '../jobs/input.js';
import { changeOf, requeued, saveAndAnnounce, snapshot } from '../jobs/transitions.js';
import { configureLogging, resetLogging } from '../lib/log.js';
import { createPrometheus } from '../lib/prometheus.js';
import { createServices, type ServiceOptions, type Services } from '../services.js';
import type { ExecResult } from '../ssh/index.js';
import { reauthCommand } from '../ssh/openssh-transport.js';
import { refuseStream } from '../../test/fake-transport.js';
import { recount, saveAndAnnounceSweep, sweepChangeOf } from '../sweeps/state.js';
import { jobPaths } from '../slurm/layout.js';
import type { JobState } from '../slurm/state.js';

const SUBJECT = 'mailto:ops@uni.example.edu';
const temporary: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-notify-'));
  temporary.push(dir);
  return dir;
};

// Every line the server logs during this file (its log and the console), to prove no secret reaches a log.
const logged: string[] = [];
const privateKeys = new Set<string>();
beforeAll(() => {
  for (const level of ['log', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
  }
  configureLogging({ destination: { write: (line) => logged.push(line) }, level: 'debug' });
});
afterAll(() => {
  vi.restoreAllMocks();
  resetLogging();
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  expect(privateKeys.size).toBeGreaterThan(0);
  for (const key of privateKeys) expect(logged.filter((line) => line.includes(key))).toEqual([]);
});

/** What the fake cluster answers to the log tail read: the output file's text, a failure, or no answer at all. */
type LogAnswer = string | Error | 'hang';

interface World {
  orm: Orm;
  config: Config;
  services: Services;
  project: Project;
  otherProject: Project;
  log: LogAnswer;
  logReads: number[];
  /** Runs as the log is read, before it is answered. */
  onLogRead?: () => Promise<void>;
  /** What the fake cluster answers to the poll (slurm/poll.ts): the queue's and accounting's lines. */
  poll: { queue: string[]; accounting: string[] };
}

const MARK = '@@mission-control';

const worlds: World[] = [];
const receivers: PushReceiver[] = [];

const servers: Array<HttpReceiver | SmtpReceiver> = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) await close(world);
  for (const receiver of receivers.splice(0)) await receiver.close();
  for (const server of servers.splice(0)) await server.close();
});

async function close(world: World): Promise<void> {
  const index = worlds.indexOf(world);
  if (index >= 0) worlds.splice(index, 1);
  await world.services.close();
  await world.orm.close();
}

const input = (projectId: number): JobInput => jobInput(projectId);

const addProject = (orm: Orm, name: string): Promise<Project> => insertProject(orm.em.fork(), name);

/** A fresh services object; `dbName` a file to reopen the same database later (a restart). */
async function open(options: { dbName?: string; notify?: ServiceOptions['notify']; notifications?: Partial<NotificationsConfig>; start?: boolean; alpha?: Partial<Parameters<typeof clusterConfig>[1]> } = {}): Promise<World> {
  const orm = await initOrm(options.dbName ?? ':memory:');
  const config: Config = { file: 'test.yaml', clusters: [clusterConfig('alpha', { host: 'alpha.example.edu', user: 'me', agent: true, ...options.alpha })], notifications: { subject: SUBJECT, allowLoopbackHttpEndpoints: true, ...options.notifications } };
  const world = { orm, config, log: '', logReads: [], poll: { queue: [], accounting: [] } } as unknown as World;
  world.services = createServices({
    orm,
    config,
    clusters: {
      transportFactory: () => ({
        async exec(argv): Promise<ExecResult> {
          if (argv[0] === 'sh' && argv[2]?.includes('tail -c')) {
            world.logReads.push(Number(argv[5]));
            await world.onLogRead?.();
            const answer = world.log;
            if (answer === 'hang') return new Promise(() => undefined);
            if (answer instanceof Error) throw answer;
            // The log read's header: the file's size, the byte its text stands for from, 1 for "the whole file".
            return { stdout: `${Buffer.byteLength(answer)} 0 1\n${answer}`, stderr: '', exitCode: 0, durationMs: 1 };
          }
          if (argv[0] === 'sh' && argv[2]?.includes('squeue')) {
            const lines = (list: string[]) => list.map((line) => `${line}\n`).join('');
            return { stdout: `${lines(world.poll.queue)}${MARK} squeue 0\n${lines(world.poll.accounting)}${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 1 };
          }
          throw new Error(`the fake cluster got an unexpected command: ${argv.join(' ')}`);
        },
        close: async () => undefined,
        stream: refuseStream,
      }),
    },
    notify: { pendingCheckPattern: '0 0 0 1 1 *', ...options.notify },
  });
  world.project = await addProject(orm, 'vision');
  world.otherProject = await addProject(orm, 'speech');
  if (options.start !== false) await world.services.notify.start();
  const keys = await orm.em.fork().findOne(ServerSetting, { key: 'vapid-keys' });
  if (keys) privateKeys.add((JSON.parse(keys.value) as { privateKey: string }).privateKey);
  worlds.push(world);
  return world;
}

async function receiver(mode?: ReceiverMode): Promise<PushReceiver> {
  const started = await startPushReceiver({ mode });
  receivers.push(started);
  return started;
}

async function subscribe(world: World, to: PushReceiver, settings: { pendingAfterMinutes?: number | null; mutedProjectIds?: number[]; failedTaskPushes?: boolean; startedAfterWaitMinutes?: number | null } = {}): Promise<PushSubscription> {
  return world.services.notify.register(world.orm.em.fork(), { endpoint: to.endpoint, ...to.keys, ...settings }, null, 1);
}

async function addJob(world: World, fields: Partial<Job> = {}): Promise<Job> {
  const em = world.orm.em.fork();
  const tag = Math.random().toString(36).slice(2, 14).padEnd(12, '0');
  const job = em.create(Job, {
    tag,
    userId: 1,
    projectId: world.project.id,
    cluster: 'alpha',
    name: 'train-resnet',
    description: '',
    commitSha: 'a'.repeat(40),
    input: input(world.project.id),
    script: '#!/bin/bash\n',
    jobDir: `/home/me/mission-control/jobs/${tag}`,
    slurmJobId: '4242',
    state: 'RUNNING',
    archived: false,
    createdAt: new Date(),
    updatedAt: new Date(),
    submittedAt: new Date(),
    ...fields,
  });
  await em.flush();
  return job;
}

/** What the poller does when SLURM reports a change: save, then announce. */
async function update(world: World, job: Job, changes: Partial<Job>): Promise<Job> {
  const em = world.orm.em.fork();
  const row = await em.findOneOrFail(Job, { id: job.id });
  Object.assign(row, changes, { updatedAt: new Date() });
  await em.flush();
  world.services.events.publish('job:updated', snapshot(row));
  return row;
}

/** Lets published events reach the notifier, then waits for what it started. */
async function settle(world: World): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 30));
  await world.services.notify.idle();
}

const subscriptionOf = (world: World, to: PushReceiver) => world.orm.em.fork().findOne(PushSubscription, { endpoint: to.endpoint });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The offset the metrics service reads a job's file from; a GPU sampler's file is first reported as a new match. */
async function following(world: World, job: Job, path: string): Promise<number> {
  const reader = world.services.metrics.reader;
  for (let attempt = 0; attempt < 200; attempt++) {
    const sources = await reader.sourcesFor('alpha', [{ id: job.id, jobDir: job.jobDir, running: true }]);
    const file = sources.find(({ jobId, source }) => jobId === job.id && source.kind === 'file' && source.path === path);
    if (file?.source.kind === 'file') return file.source.offset;
    // Stored in the background; the watch restarts once it is, as here.
    reader.onMatch(job.id, `${jobPaths(job.jobDir).gpu}/*.csv`, path);
    await sleep(10);
  }
  throw new Error(`the metrics service never followed ${path}`);
}

/**
 * Jobs' files growing, as the lifecycle watch hands their new bytes to the metrics service: it parses them, stores
 * the points and announces them (metrics:updated, within a second). Waits for every job's announcement, then for what
 * the notifier started.
 */
async function grow(world: World, writes: Array<{ job: Job; path: string; text: string }>): Promise<void> {
  const reader = world.services.metrics.reader;
  const offsets: number[] = [];
  for (const { job, path } of writes) offsets.push(await following(world, job, path));
  const waiting = new Set(writes.map(({ job }) => job.id));
  const iterator = world.services.events.subscribe('metrics:updated')[Symbol.asyncIterator]();
  const heard = (async () => {
    while (waiting.size > 0) {
      const next = await iterator.next();
      if (next.done) return;
      waiting.delete(next.value.jobId);
    }
  })();
  for (const [index, { job, path, text }] of writes.entries()) expect(reader.onBytes(job.id, path, offsets[index]!, Buffer.from(text))).toBe(false);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no metrics:updated for job ${[...waiting].join(', ')}: the metrics service stored nothing (logged: ${logged.slice(-3).join(' / ')})`)), 5_000);
  });
  try {
    await Promise.race([heard, deadline]);
  } finally {
    clearTimeout(timer);
    void iterator.return?.();
  }
  await settle(world);
}

/** Points stored as the metrics service stores them (sqlNumber: NaN as null, an infinity as the dialect's), then announced. */
async function storePoints(world: World, job: Job, points: Array<{ name: string; step: number; value: number }>): Promise<void> {
  const em = world.orm.em.fork();
  const values: unknown[] = [];
  const tuples = points.map((point) => {
    values.push(job.id, point.name, point.step);
    const value = sqlNumber(dialectOf(em), point.value, values);
    values.push(Date.now());
    return `(?, 0, ?, ?, ${value}, ?)`;
  });
  await em.getConnection().execute(`insert into metric_point (job_id, source_id, name, step, value, time) values ${tuples.join(', ')}`, values);
  world.services.events.publish('metrics:updated', { jobId: job.id, names: [...new Set(points.map((point) => point.name))] });
  await settle(world);
}

/** JSON lines in a job's log, as a training loop prints them (json.dumps spells NaN and Infinity so). */
const logLines = (job: Job, records: Array<Record<string, number | string>>) => ({
  job,
  path: jobPaths(job.jobDir).output,
  text: records.map((record) => `${JSON.stringify(record).replace(/"(NaN|-?Infinity)"/g, '$1')}\n`).join(''),
});

const SAMPLED_FROM = Date.UTC(2026, 11, 5, 1, 0, 0);
const SAMPLE_MS = 30_000;

/** Samples `from` to `to` (exclusive, 30 s apart) of a node's GPUs, as the job script's nvidia-smi writes them. */
function gpuSamples(job: Job, from: number, to: number, utilization: (gpu: number, sample: number) => number, { gpus = 4, node = 'gpu-a100' } = {}) {
  const lines: string[] = [];
  for (let sample = from; sample < to; sample++) {
    const stamp = new Date(SAMPLED_FROM + sample * SAMPLE_MS).toISOString().replace(/-/g, '/').replace('T', ' ').replace('Z', '');
    for (let gpu = 0; gpu < gpus; gpu++) lines.push(`${stamp}, ${gpu}, ${utilization(gpu, sample)}, 1024, 40960\n`);
  }
  return { job, path: `${jobPaths(job.jobDir).gpu}/${node}.csv`, text: lines.join('') };
}

describe('VAPID keys', () => {
  it('are made on the first start and kept in the database; a restart uses the same pair', async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const first = await open({ dbName });
    const publicKey = await first.services.notify.publicKey();
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(publicKey, 'base64url')[0]).toBe(4);
    const stored = await first.orm.em.fork().find(ServerSetting, {});
    expect(stored.map((row) => row.key)).toEqual(['vapid-keys']);
    await close(first);

    const again = await open({ dbName });
    expect(await again.services.notify.publicKey()).toBe(publicKey);
    // And a push signed after the restart carries that same key.
    const phone = await receiver();
    await subscribe(again, phone);
    await update(again, await addJob(again), { state: 'COMPLETED', exitCode: 0 });
    expect((await phone.waitFor()).vapid.publicKey).toBe(publicKey);
  });
});

describe('job end', () => {
  it('pushes the job and its state, the exit code and the last log line to every device, signed for the endpoint origin', async () => {
    const world = await open();
    const [phone, laptop] = [await receiver(), await receiver()];
    await subscribe(world, phone);
    await subscribe(world, laptop);
    world.log = 'epoch 1 loss 0.52\n\u001b[32mfinal accuracy 0.93\u001b[0m   \n\n  \n';
    const job = await addJob(world);
    await update(world, job, { state: 'COMPLETED', slurmState: 'COMPLETED', exitCode: 0, endedAt: new Date() });

    for (const device of [phone, laptop]) {
      const message = await device.waitFor();
      expect(message.json).toEqual({
        title: 'train-resnet completed',
        body: 'Exit code 0 · alpha\nfinal accuracy 0.93',
        url: `/jobs/${job.id}`,
        tag: `job-${job.id}`,
        jobId: job.id,
        state: 'COMPLETED',
        cluster: 'alpha',
      });
      expect(message.vapid.publicKey).toBe(await world.services.notify.publicKey());
      expect(message.vapid.claims.aud).toBe(new URL(device.endpoint).origin);
      expect(message.vapid.claims.sub).toBe(SUBJECT);
      expect(message.headers.topic).toBe(`job-${job.id}`);
      expect(device.errors).toEqual([]);
    }
    // One small, byte-bounded read of the log for both devices.
    expect(world.logReads).toEqual([4096]);
    await settle(world);
    expect((await subscriptionOf(world, phone))?.lastSuccessAt).toBeInstanceOf(Date);
  });

  it('reads the log only once the end is saved, so the W&B link it finds is announced with the end, not the old state', async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    world.log = 'wandb: 🚀 View run at https://wandb.ai/me/vision/runs/abc123\nepoch 3 done\n';
    const job = await addJob(world);
    const announced: string[] = [];
    const iterator = world.services.events.subscribe('job:updated')[Symbol.asyncIterator]();
    void (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) announced.push(`${next.value.state} ${next.value.wandbUrl ?? '-'}`);
    })();
    // Saves take a while, as on a busy disk: an end announced before it is saved would be read back as running.
    world.orm.em.getEventManager().registerSubscriber({ beforeFlush: () => new Promise((resolve) => setTimeout(resolve, 100)) });
    // What the database holds each time the log is read.
    const storedWhenRead: string[] = [];
    world.onLogRead = async () => void storedWhenRead.push((await world.orm.em.fork().findOneOrFail(Job, { id: job.id })).state);
    // The poller learns the end from SLURM.
    world.poll = {
      queue: [`4242|COMPLETED|None|node1|2026-11-23T10:00:00|2026-11-23T10:05:00|5:00|${job.jobDir}/code`],
      accounting: ['4242|COMPLETED|None|0:0|2026-11-23T10:00:00|2026-11-23T10:05:00|00:05:00|node1|/x'],
    };
    await world.services.poller.pollNow('alpha');
    expect((await phone.waitFor()).json.body).toBe('Exit code 0 · alpha\nepoch 3 done');
    expect(storedWhenRead).toEqual(['COMPLETED']);
    await iterator.return?.();
    expect(announced).toEqual(['COMPLETED -', 'COMPLETED https://wandb.ai/me/vision/runs/abc123']);
  });

  it('names the failure kind, with SLURM’s own words when it has them, and sbatch’s refusal', async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    world.log = 'Traceback (most recent call last):\nRuntimeError: CUDA out of memory\n';
    const cases: Array<[Partial<Job>, string, string]> = [
      [{ state: 'OUT_OF_MEMORY', slurmState: 'OUT_OF_MEMORY', exitCode: 0, signal: 9 }, 'train-resnet ran out of memory', 'OUT_OF_MEMORY (exit code 0, signal 9) · alpha\nRuntimeError: CUDA out of memory'],
      [{ state: 'FAILED', slurmState: 'FAILED', exitCode: 1 }, 'train-resnet failed', 'Exit code 1 · alpha\nRuntimeError: CUDA out of memory'],
      [{ state: 'CANCELLED', slurmState: 'CANCELLED by 1001', exitCode: 0 }, 'train-resnet was cancelled', 'CANCELLED by 1001 · alpha\nRuntimeError: CUDA out of memory'],
      [{ state: 'TIMEOUT', slurmState: 'TIMEOUT' }, 'train-resnet timed out', 'TIMEOUT · alpha\nRuntimeError: CUDA out of memory'],
      [{ state: 'NODE_FAIL', slurmState: 'BOOT_FAIL' }, 'train-resnet lost its node', 'NODE_FAIL · alpha\nRuntimeError: CUDA out of memory'],
    ];
    for (const [changes, title, body] of cases) {
      const job = await update(world, await addJob(world), changes);
      expect((await phone.waitFor((message) => message.json.jobId === job.id)).json).toMatchObject({ title, body, state: changes.state });
    }
    const reads = world.logReads.length;
    const refused = await addJob(world, { state: 'SUBMITTING', slurmJobId: null, name: 'sweep-7' });
    await update(world, refused, { state: 'SUBMIT_FAILED', submitError: 'sbatch: error: Invalid partition name specified\n' });
    expect((await phone.waitFor((message) => message.json.jobId === refused.id)).json).toMatchObject({
      title: 'sweep-7 could not be submitted',
      body: 'sbatch: error: Invalid partition name specified · alpha',
      state: 'SUBMIT_FAILED',
    });
    // A job that never ran has no log to read.
    expect(world.logReads).toHaveLength(reads);
  });

  it('is sent once per job: not for repeated events, later changes or after a restart, nor as old news to a new device', async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const world = await open({ dbName });
    const phone = await receiver();
    await subscribe(world, phone);
    const job = await addJob(world);
    const ended = await update(world, job, { state: 'FAILED', exitCode: 2 });
    await phone.waitFor();
    world.services.events.publish('job:updated', snapshot(ended));
    world.services.events.publish('job:updated', snapshot(ended));
    await update(world, job, { archived: true });
    // Ended while no device listened: still counted as told.
    const unheard = await addJob(world);
    await world.orm.em.fork().nativeDelete(PushSubscription, {});
    await update(world, unheard, { state: 'COMPLETED', exitCode: 0 });
    await settle(world);
    await close(world);

    const restarted = await open({ dbName });
    await subscribe(restarted, phone);
    await update(restarted, job, { archived: false });
    await update(restarted, unheard, { archived: true });
    await settle(restarted);
    expect(phone.messages.map((message) => message.json.jobId)).toEqual([job.id]);
  });

  it("among replicas, catches up an end whose event was lost (Redis is at most once), once, and only its user's devices", async () => {
    const world = await open({ notify: { catchUpEnds: true } });
    const phone = await receiver();
    const otherUsers = await receiver();
    await subscribe(world, phone);
    const bob = await world.services.users.add('bob');
    await world.services.notify.register(world.orm.em.fork(), { endpoint: otherUsers.endpoint, ...otherUsers.keys }, null, bob.id);
    // Saved as another replica's poll would, its event lost on the way: nothing announced it here.
    const job = await addJob(world, { state: 'FAILED', exitCode: 2, endedAt: new Date() });
    const old = await addJob(world, { state: 'COMPLETED', exitCode: 0, endedAt: new Date(Date.now() - 60 * 60_000) });
    await world.services.notify.catchUpEnds();
    await phone.waitFor();
    await world.services.notify.catchUpEnds();
    world.services.events.publish('job:updated', snapshot(await world.orm.em.fork().findOneOrFail(Job, { id: job.id })));
    await settle(world);
    expect(phone.messages.map((message) => message.json.jobId)).toEqual([job.id]);
    expect(phone.messages.map((message) => message.json.jobId)).not.toContain(old.id);
    expect(otherUsers.messages).toEqual([]);
  });

  it('leaves out devices that muted the project', async () => {
    const world = await open();
    const [mutedVision, mutedSpeech] = [await receiver(), await receiver()];
    await subscribe(world, mutedVision, { mutedProjectIds: [world.project.id] });
    await subscribe(world, mutedSpeech, { mutedProjectIds: [world.otherProject.id] });
    const job = await update(world, await addJob(world), { state: 'COMPLETED', exitCode: 0 });
    expect((await mutedSpeech.waitFor()).json.jobId).toBe(job.id);
    await settle(world);
    expect(mutedVision.messages).toEqual([]);
  });

  it('goes without the log line when the log cannot be read, or not in time', async () => {
    const world = await open({ notify: { logTimeoutMs: 300 } });
    const phone = await receiver();
    await subscribe(world, phone);
    world.log = new Error('connection lost');
    const first = await update(world, await addJob(world), { state: 'COMPLETED', exitCode: 0 });
    expect((await phone.waitFor((message) => message.json.jobId === first.id)).json.body).toBe('Exit code 0 · alpha');
    world.log = 'hang';
    const started = Date.now();
    const second = await update(world, await addJob(world), { state: 'FAILED', exitCode: 1 });
    expect((await phone.waitFor((message) => message.json.jobId === second.id)).json.body).toBe('Exit code 1 · alpha');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(logged.some((line) => line.includes(`job ${first.id}: log not readable`))).toBe(true);
    expect(logged.some((line) => line.includes(`job ${second.id}: no log line within 300 ms`))).toBe(true);
  });
});

describe('pending reminders', () => {
  it('tell each device once, after its own threshold, never for a muted project or a job that runs', async () => {
    const t0 = new Date('2026-11-24T10:00:00Z').getTime();
    let clock = t0;
    const world = await open({ notify: { now: () => new Date(clock) } });
    const [tenMinutes, halfHour, never, muted] = [await receiver(), await receiver(), await receiver(), await receiver()];
    await subscribe(world, tenMinutes, { pendingAfterMinutes: 10 });
    await subscribe(world, halfHour, { pendingAfterMinutes: 30 });
    await subscribe(world, never, { pendingAfterMinutes: null });
    await subscribe(world, muted, { pendingAfterMinutes: 10, mutedProjectIds: [world.project.id] });
    const created = new Date(t0 - 60_000);
    const waiting = await addJob(world, { state: 'PENDING', reason: 'Priority', createdAt: created, submittedAt: new Date(t0) });
    await addJob(world, { state: 'RUNNING', createdAt: created, submittedAt: new Date(t0) });
    await addJob(world, { state: 'PENDING', createdAt: created, submittedAt: new Date(t0 + 14 * 60_000) });

    clock = t0 + 9 * 60_000;
    await world.services.notify.checkPending();
    clock = t0 + 15 * 60_000;
    await world.services.notify.checkPending();
    await world.services.notify.checkPending();
    expect(tenMinutes.messages.map((message) => message.json)).toEqual([
      {
        title: 'train-resnet still pending',
        body: 'Waiting for 15 min on alpha (Priority)',
        url: `/jobs/${waiting.id}`,
        tag: `job-${waiting.id}`,
        jobId: waiting.id,
        state: 'PENDING',
        cluster: 'alpha',
      },
    ]);
    expect([halfHour.messages, never.messages, muted.messages]).toEqual([[], [], []]);

    clock = t0 + 31 * 60_000;
    await world.services.notify.checkPending();
    expect(halfHour.messages.map((message) => message.json.jobId)).toEqual([waiting.id]);
    // The job submitted at 14 min is now 17 min old: due for the ten-minute device only.
    expect(tenMinutes.messages).toHaveLength(2);
    expect([never.messages, muted.messages]).toEqual([[], []]);
  });

  it('are looked for on a schedule once started, from the database alone', async () => {
    const world = await open({ notify: { pendingCheckPattern: '* * * * * *' } });
    const phone = await receiver();
    await subscribe(world, phone, { pendingAfterMinutes: 5 });
    const job = await addJob(world, { state: 'PENDING', createdAt: new Date(Date.now() - 3_600_000), submittedAt: new Date(Date.now() - 3_600_000) });
    expect((await phone.waitFor(undefined, 3000)).json).toMatchObject({ jobId: job.id, state: 'PENDING' });
    expect(world.logReads).toEqual([]);
  });
});

describe('re-authentication', () => {
  const status = (changes: Partial<ClusterStatus>): ClusterStatus => ({
    name: 'alpha',
    userId: 1,
    transport: 'openssh',
    host: 'alpha.example.edu',
    reachable: false,
    latencyMs: null,
    slurmVersion: null,
    partitions: [],
    error: null,
    checkedAt: new Date(),
    stale: true,
    needsReauth: null,
    lastPollAt: null,
    lastPollError: null,
    connectionHelp: null,
    ...changes,
  });
  const command = 'ssh -o ControlMaster=auto -o ControlPath=~/.ssh/mission-control/cm-%C me@alpha.example.edu true';

  it('tells every device once per expiry with the command to run, and again only after a poll that worked', async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone, { mutedProjectIds: [world.project.id, world.otherProject.id] });
    const publish = async (changes: Partial<ClusterStatus>) => {
      world.services.events.publish('cluster:status', status(changes));
      await settle(world);
    };
    await publish({ needsReauth: command, lastPollAt: new Date(), lastPollError: 'needs you to log in again' });
    expect(phone.messages.map((message) => message.json)).toEqual([
      { title: 'alpha needs you to log in again', body: `Run in a terminal on the server's machine: ${command}`, url: '/clusters', tag: 'reauth-alpha', cluster: 'alpha' },
    ]);
    await publish({ needsReauth: command, lastPollAt: new Date(), lastPollError: 'needs you to log in again' });
    // A connection check before any poll (as after a restart) knows nothing of the login.
    await publish({ needsReauth: null, lastPollAt: null });
    await publish({ needsReauth: command, lastPollAt: new Date() });
    expect(phone.messages).toHaveLength(1);

    await publish({ needsReauth: null, reachable: true, stale: false, lastPollAt: new Date() });
    await publish({ needsReauth: command, lastPollAt: new Date() });
    expect(phone.messages).toHaveLength(2);
  });

  it("tells only the expired login's user, once per login: another user's login to the same cluster is their own", async () => {
    const world = await open();
    const [ownersPhone, alicesPhone] = [await receiver(), await receiver()];
    await subscribe(world, ownersPhone);
    const alice = await world.services.users.add('alice');
    await world.services.notify.register(world.orm.em.fork(), { endpoint: alicesPhone.endpoint, ...alicesPhone.keys }, null, alice.id);
    world.services.events.publish('cluster:status', status({ userId: alice.id, needsReauth: command, lastPollAt: new Date() }));
    expect((await alicesPhone.waitFor()).json).toMatchObject({ title: 'alpha needs you to log in again', cluster: 'alpha' });
    await settle(world);
    expect(ownersPhone.messages).toEqual([]);
    // The owner's own login expiring later is news of its own, not a repeat of alice's.
    world.services.events.publish('cluster:status', status({ userId: 1, needsReauth: command, lastPollAt: new Date() }));
    expect((await ownersPhone.waitFor()).json).toMatchObject({ title: 'alpha needs you to log in again' });
    await settle(world);
    expect(alicesPhone.messages).toHaveLength(1);
  });

  it("puts the cluster's connection help first: its VPN command, else the first line of its steps, each bounded", async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    const expire = async (connectionHelp: ClusterStatus['connectionHelp'], cluster: string) => {
      world.services.events.publish('cluster:status', status({ name: cluster, needsReauth: command, lastPollAt: new Date(), connectionHelp }));
      return (await phone.waitFor((message) => message.json.cluster === cluster)).json as { title: string; body: string };
    };
    const withVpn = await expire({ vpn: 'sudo openconnect --user=me vpn.alpha.edu', steps: 'Approve the Duo push.', link: 'https://alpha.edu/vpn' }, 'alpha');
    expect(withVpn).toMatchObject({ title: 'alpha needs you to log in again', body: `Connect the VPN first: sudo openconnect --user=me vpn.alpha.edu\nThen run in a terminal on the server's machine: ${command}` });
    const stepsOnly = await expire({ steps: `\n  Off campus? Use the ${'gateway '.repeat(40)}\nThen ask hpc-help.` }, 'beta');
    const [first, then] = stepsOnly.body.split('\n');
    expect(first).toMatch(/^Off campus\? Use the gateway gateway .*…$/);
    expect(first).toHaveLength(200);
    expect(then).toBe(`Then run in a terminal on the server's machine: ${command}`);
    // A link alone does not fit a lock screen: tapping the push opens the clusters screen, whose card has it.
    expect((await expire({ link: 'https://gamma.edu/vpn' }, 'gamma')).body).toBe(`Run in a terminal on the server's machine: ${command}`);
  });

  it('shows no key or known_hosts file path on the lock screen: neither in the command nor in an sbatch refusal', async () => {
    const identityFile = join(homedir(), '.ssh', 'id_mission_control_alpha');
    const world = await open({ alpha: { identityFile, knownHostsFile: '/etc/mission-control/known_hosts' } });
    const phone = await receiver();
    await subscribe(world, phone);
    const withPaths = reauthCommand(world.services.clusters.config('alpha'));
    expect(withPaths).toContain(identityFile);
    world.services.events.publish('cluster:status', status({ needsReauth: withPaths, lastPollAt: new Date() }));
    const reauth = (await phone.waitFor()).json as { body: string };
    expect(reauth.body).toContain('-o UserKnownHostsFile=<knownHostsFile>');
    expect(reauth.body).toContain('-i <identityFile>');
    expect(reauth.body).toMatch(/^Run in a terminal on the server's machine: ssh .* -- me@alpha\.example\.edu true$/);

    const job = await addJob(world, { slurmJobId: null, state: 'SUBMITTING' });
    await update(world, job, { state: 'SUBMIT_FAILED', submitError: `Warning: Identity file ${identityFile.replace(homedir(), '~')} not accessible: No such file or directory` });
    await expect.poll(() => phone.messages.length).toBe(2);
    expect((phone.messages[1]!.json as { body: string }).body).toBe('sbatch: Warning: Identity file <identityFile> not accessible: No such file or directory · alpha');
    expect(JSON.stringify(phone.messages.map((message) => message.json))).not.toMatch(/id_mission_control_alpha|\/etc\/mission-control/);
  });
});

describe('delivery failures', () => {
  it('remove a subscription the push service calls gone (404, 410) and keep one that fails otherwise', async () => {
    const world = await open();
    const [notFound, gone, broken, fine] = [await receiver(404), await receiver(410), await receiver(500), await receiver()];
    for (const device of [notFound, gone, broken, fine]) await subscribe(world, device, { pendingAfterMinutes: 1 });
    const goneId = (await subscriptionOf(world, gone))!.id;
    await world.orm.em.fork().insert(PushNotice, { key: `job-pending:${goneId}:1`, createdAt: new Date() });

    await update(world, await addJob(world), { state: 'COMPLETED', exitCode: 0 });
    await fine.waitFor();
    await settle(world);
    expect(await subscriptionOf(world, notFound)).toBeNull();
    expect(await subscriptionOf(world, gone)).toBeNull();
    expect(await world.orm.em.fork().count(PushNotice, { key: { $like: `job-pending:${goneId}:%` } })).toBe(0);
    expect(await subscriptionOf(world, broken)).toMatchObject({ lastError: 'HTTP 500', lastSuccessAt: null });
    expect((await subscriptionOf(world, fine))?.lastError).toBeNull();

    await update(world, await addJob(world), { state: 'COMPLETED', exitCode: 0 });
    await fine.waitFor((message) => fine.messages.indexOf(message) === 1);
    await settle(world);
    expect([notFound, gone, broken, fine].map((device) => device.messages.length)).toEqual([1, 1, 2, 2]);
    expect(logged.some((line) => line.includes(`(${new URL(broken.endpoint).origin}): push failed, kept: HTTP 500`))).toBe(true);
  });

  it('a device that never answers or refuses connections holds up no other, and is kept', async () => {
    const world = await open({ notify: { sendTimeoutMs: 300, sendConcurrency: 1 } });
    const hanging = await receiver('hang');
    const refusing = await receiver();
    const fine = await receiver();
    await subscribe(world, hanging);
    await subscribe(world, refusing);
    await subscribe(world, fine);
    await refusing.close();

    const started = Date.now();
    await update(world, await addJob(world), { state: 'COMPLETED', exitCode: 0 });
    await fine.waitFor(undefined, 3000);
    expect(Date.now() - started).toBeLessThan(2000);
    await settle(world);
    expect((await subscriptionOf(world, hanging))?.lastError).toMatch(/timeout/i);
    expect((await subscriptionOf(world, refusing))?.lastError).toMatch(/ECONNREFUSED/);
  });
});

describe('sweeps', () => {
  const MODELS = ['resnet', 'vit'];
  const ENDED = new Date('2026-12-01T12:00:00Z');
  const STARTED = new Date(ENDED.getTime() - 41 * 60_000);

  /** A sweep of seed × model as sweeps/service.ts stores it once sbatch answered, with a task row per run. */
  async function addSweep(world: World, states: JobState[], fields: Partial<Job> = {}): Promise<{ sweep: Sweep; tasks: Job[] }> {
    const em = world.orm.em.fork();
    const runs = states.map((_, index) => {
      const overrides = [`seed=${Math.floor(index / 2) + 1}`, `model=${MODELS[index % 2]}`];
      return { overrides, words: overrides };
    });
    const counts: Partial<Record<JobState, number>> = {};
    for (const state of states) counts[state] = (counts[state] ?? 0) + 1;
    const sweep = em.create(Sweep, {
      tag: Math.random().toString(36).slice(2, 14).padEnd(12, '0'),
      userId: 1,
      projectId: world.project.id,
      cluster: 'alpha',
      name: 'train-resnet',
      commitSha: 'a'.repeat(40),
      input: input(world.project.id),
      definition: ['seed=1,2,3', 'model=resnet,vit'],
      varying: ['seed', 'model'],
      size: states.length,
      runs,
      throttle: states.length,
      arrayJobId: '4300',
      retries: 0,
      counts,
      archived: false,
      createdAt: STARTED,
      updatedAt: STARTED,
      endedAt: null,
    });
    await em.flush();
    const tasks: Job[] = [];
    for (const [index, state] of states.entries()) {
      tasks.push(await addJob(world, { sweepId: sweep.id, arrayIndex: index, slurmJobId: `4300_${index}`, state, createdAt: STARTED, submittedAt: STARTED, ...fields }));
    }
    return { sweep, tasks };
  }

  /** What the poller does as the tasks end; the sweeps domain then counts the sweep and announces its end. */
  async function end(world: World, tasks: Job[], states: JobState[], endedAt = ENDED): Promise<void> {
    for (const [index, task] of tasks.entries()) await update(world, task, { state: states[index]!, exitCode: states[index] === 'COMPLETED' ? 0 : 1, endedAt });
  }

  /** As relaunchFailed stores it: new task rows for the failed indexes, the retry counted, the end cleared. */
  async function relaunch(world: World, sweep: Sweep, failed: Job[]): Promise<Job[]> {
    const tasks: Job[] = [];
    for (const task of failed) tasks.push(await addJob(world, { sweepId: sweep.id, arrayIndex: task.arrayIndex, parentId: task.id, slurmJobId: `4400_${task.arrayIndex}`, state: 'PENDING' }));
    const em = world.orm.em.fork();
    const row = await em.findOneOrFail(Sweep, { id: sweep.id });
    const change = sweepChangeOf(row);
    row.retries += 1;
    row.endedAt = null;
    await recount(em, row);
    await saveAndAnnounceSweep(em, world.services.events, change);
    return tasks;
  }

  const isSweep = (sweep: Sweep) => (message: { json: any }) => message.json.url === `/sweeps/${sweep.id}`;

  it('one push when a sweep ends, with its counts in words and its duration; its tasks send none', async () => {
    const world = await open();
    world.services.sweeps.start();
    const [phone, mutedVision, mutedSpeech] = [await receiver(), await receiver(), await receiver()];
    await subscribe(world, phone);
    await subscribe(world, mutedVision, { mutedProjectIds: [world.project.id] });
    await subscribe(world, mutedSpeech, { mutedProjectIds: [world.otherProject.id] });
    const { sweep, tasks } = await addSweep(world, Array(6).fill('RUNNING'));
    await end(world, tasks, ['COMPLETED', 'COMPLETED', 'FAILED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);

    await phone.waitFor(isSweep(sweep));
    await settle(world);
    for (const device of [phone, mutedSpeech]) {
      expect(device.messages.map((message) => message.json)).toEqual([
        {
          title: 'train-resnet · seed × model ended with failures',
          body: '5 completed, 1 failed, 41 min · alpha',
          url: `/sweeps/${sweep.id}`,
          tag: `sweep-${sweep.id}`,
          sweepId: sweep.id,
          state: 'COMPLETED_WITH_FAILURES',
          cluster: 'alpha',
        },
      ]);
    }
    expect(mutedVision.messages).toEqual([]);
    // Nobody asked for a task's push, so no task's log is read either.
    expect(world.logReads).toEqual([]);
  });

  it('says how every kind of end went, never "completed" with a failure among them', async () => {
    const world = await open();
    world.services.sweeps.start();
    const phone = await receiver();
    await subscribe(world, phone);
    const cases: Array<[JobState[], string, string]> = [
      [['COMPLETED', 'COMPLETED'], 'train-resnet · seed × model completed', '2 completed, 41 min · alpha'],
      [['FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED'], 'train-resnet · seed × model failed', '1 failed, 1 timed out, 1 out of memory, 1 node failure, 1 preempted, 41 min · alpha'],
      [['COMPLETED', 'CANCELLED', 'CANCELLED'], 'train-resnet · seed × model was cancelled', '1 completed, 2 cancelled, 41 min · alpha'],
      [['COMPLETED', 'TIMEOUT', 'CANCELLED'], 'train-resnet · seed × model ended with failures', '1 completed, 1 timed out, 1 cancelled, 41 min · alpha'],
    ];
    for (const [states, title, body] of cases) {
      const { sweep, tasks } = await addSweep(world, states.map(() => 'RUNNING'));
      await end(world, tasks, states);
      expect((await phone.waitFor(isSweep(sweep))).json).toMatchObject({ title, body });
    }
    const refused = await addSweep(world, ['SUBMITTING', 'SUBMITTING'], { slurmJobId: null });
    for (const task of refused.tasks) await update(world, task, { state: 'SUBMIT_FAILED', submitError: 'sbatch: error: Invalid partition name specified\n', endedAt: ENDED });
    expect((await phone.waitFor(isSweep(refused.sweep))).json).toMatchObject({
      title: 'train-resnet · seed × model could not be submitted',
      body: 'sbatch: error: Invalid partition name specified · alpha',
    });
    await settle(world);
    expect(phone.messages).toHaveLength(cases.length + 1);
  });

  it('a device that asks for failed tasks gets one push per failed task (none for the others), at most 10 per sweep', async () => {
    const world = await open();
    world.services.sweeps.start();
    const [eager, plain, eagerMuted] = [await receiver(), await receiver(), await receiver()];
    await subscribe(world, eager, { failedTaskPushes: true });
    await subscribe(world, plain);
    await subscribe(world, eagerMuted, { failedTaskPushes: true, mutedProjectIds: [world.project.id] });
    world.log = 'Traceback (most recent call last):\nRuntimeError: CUDA out of memory\n';
    const { sweep, tasks } = await addSweep(world, Array(6).fill('RUNNING'));
    await end(world, tasks, ['COMPLETED', 'COMPLETED', 'FAILED', 'OUT_OF_MEMORY', 'CANCELLED', 'COMPLETED']);
    await eager.waitFor(isSweep(sweep));
    await settle(world);
    const taskPushes = eager.messages.filter((message) => message.json.jobId !== undefined).map((message) => message.json);
    expect(taskPushes.sort((a, b) => a.jobId - b.jobId)).toEqual([
      {
        title: 'train-resnet seed=2, model=resnet failed',
        body: 'Exit code 1 · alpha\nRuntimeError: CUDA out of memory',
        url: `/jobs/${tasks[2]!.id}`,
        tag: `job-${tasks[2]!.id}`,
        jobId: tasks[2]!.id,
        sweepId: sweep.id,
        state: 'FAILED',
        cluster: 'alpha',
      },
      {
        title: 'train-resnet seed=2, model=vit ran out of memory',
        body: 'OUT_OF_MEMORY (exit code 1) · alpha\nRuntimeError: CUDA out of memory',
        url: `/jobs/${tasks[3]!.id}`,
        tag: `job-${tasks[3]!.id}`,
        jobId: tasks[3]!.id,
        sweepId: sweep.id,
        state: 'OUT_OF_MEMORY',
        cluster: 'alpha',
      },
    ]);
    expect(eager.messages).toHaveLength(3);
    expect(plain.messages.map((message) => message.json.url)).toEqual([`/sweeps/${sweep.id}`]);
    expect(eagerMuted.messages).toEqual([]);

    // A sweep where everything fails: ten task pushes, the last saying so, then the sweep's end tells the rest.
    const broken = await addSweep(world, Array(14).fill('RUNNING'));
    await end(world, broken.tasks, Array(14).fill('FAILED'));
    await eager.waitFor(isSweep(broken.sweep));
    await settle(world);
    const brokenTasks = eager.messages.filter((message) => message.json.sweepId === broken.sweep.id && message.json.jobId !== undefined);
    expect(brokenTasks).toHaveLength(10);
    expect(brokenTasks.filter((message) => (message.json.body as string).includes('Further failed tasks of this sweep'))).toHaveLength(1);
    expect(eager.messages.find(isSweep(broken.sweep))!.json.body).toBe('14 failed, 41 min · alpha');
    expect(plain.messages).toHaveLength(2);
  });

  it('a relaunch that ends is told again; a repeated event or a restart is not', async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const world = await open({ dbName });
    world.services.sweeps.start();
    const phone = await receiver();
    await subscribe(world, phone);
    const { sweep, tasks } = await addSweep(world, Array(6).fill('RUNNING'));
    await end(world, tasks, ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED', 'COMPLETED']);
    expect((await phone.waitFor(isSweep(sweep))).json.body).toBe('5 completed, 1 failed, 41 min · alpha');
    // The same end announced again, and a later change of the ended sweep.
    const ended = await world.orm.em.fork().findOneOrFail(Sweep, { id: sweep.id });
    world.services.events.publish('sweep:updated', ended);
    world.services.events.publish('sweep:updated', ended);
    await world.services.sweeps.setArchived(world.orm.em.fork(), sweep.id, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await settle(world);
    await close(world);

    const restarted = await open({ dbName });
    restarted.services.sweeps.start();
    await restarted.services.sweeps.setArchived(restarted.orm.em.fork(), sweep.id, false);
    await update(restarted, tasks[0]!, { archived: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await settle(restarted);
    expect(phone.messages).toHaveLength(1);

    const [retry] = await relaunch(restarted, sweep, [tasks[4]!]);
    await end(restarted, [retry!], ['COMPLETED'], new Date(STARTED.getTime() + 125 * 60_000));
    await phone.waitFor((message) => phone.messages.indexOf(message) === 1);
    await settle(restarted);
    expect(phone.messages.map((message) => [message.json.title, message.json.body])).toEqual([
      ['train-resnet · seed × model ended with failures', '5 completed, 1 failed, 41 min · alpha'],
      ['train-resnet · seed × model completed', '6 completed, 2 h 5 min · alpha'],
    ]);
  });

  it('tasks that diverge are one push per metric for the sweep, saying how many; idle GPUs one push for the sweep', { timeout: 30_000 }, async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    const { sweep, tasks } = await addSweep(world, Array(6).fill('RUNNING'));
    const taskIds = (list: Job[]) => list.map((task) => task.id);
    // Three tasks diverge in the same second: one push, about whichever was announced first, counting all three.
    await grow(world, tasks.slice(0, 3).map((task) => logLines(task, [{ step: 6, loss: 0.4 }, { step: 7, loss: 'NaN' }])));
    expect(phone.messages).toHaveLength(1);
    const nan = phone.messages[0]!.json;
    expect(nan).toMatchObject({ title: 'train-resnet · seed × model: loss is NaN', url: `/jobs/${nan.jobId}`, tag: `job-${nan.jobId}`, sweepId: sweep.id, state: 'RUNNING' });
    expect(taskIds(tasks.slice(0, 3))).toContain(nan.jobId);
    const values = sweep.runs[tasks.find((task) => task.id === nan.jobId)!.arrayIndex!]!.overrides.join(', ');
    expect(nan.body).toBe(`${values} (job ${nan.jobId}) at step 7; 3 of 6 tasks so far · alpha`);

    // A fourth task diverging is not news; four tasks' GPUs idle are one push, the fifth busy and the sixth unsampled.
    await grow(world, [
      logLines(tasks[3]!, [{ step: 9, loss: 'NaN' }]),
      ...tasks.slice(0, 5).map((task, index) => gpuSamples(task, 0, 21, () => (index === 4 ? 70 : 1))),
    ]);
    expect(phone.messages).toHaveLength(2);
    const idle = phone.messages[1]!.json;
    expect(taskIds(tasks.slice(0, 4))).toContain(idle.jobId);
    expect(idle).toMatchObject({
      title: `train-resnet · seed × model: ${sweep.runs[tasks.find((task) => task.id === idle.jobId)!.arrayIndex!]!.overrides.join(', ')} is not using its 4 GPUs`,
      body: `job ${idle.jobId}: under 10 % on every one for 10 min; 4 of 6 running tasks so far · alpha`,
      sweepId: sweep.id,
    });
    await grow(world, tasks.slice(0, 5).map((task) => gpuSamples(task, 21, 22, () => 0)));
    expect(phone.messages).toHaveLength(2);
  });

  it('a sweep that waited long is one push when its first task starts, not one per task; a relaunch that waits again is news again', async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone, { startedAfterWaitMinutes: 30 });
    const { sweep, tasks } = await addSweep(world, ['PENDING', 'PENDING', 'PENDING']);
    // Submitted at STARTED: 41 minutes before ENDED.
    for (const task of tasks) await update(world, task, { state: 'RUNNING', startedAt: ENDED, nodeList: 'gpu-a100' });
    await settle(world);
    expect(phone.messages.map((message) => message.json)).toEqual([
      {
        title: 'train-resnet · seed × model started',
        body: `Its first task (job ${tasks[0]!.id}) started after waiting 41 min · alpha · gpu-a100`,
        url: `/sweeps/${sweep.id}`,
        tag: `sweep-${sweep.id}`,
        jobId: tasks[0]!.id,
        sweepId: sweep.id,
        state: 'RUNNING',
        cluster: 'alpha',
      },
    ]);
    const [again] = await relaunch(world, sweep, [tasks[1]!]);
    await update(world, again!, { state: 'RUNNING', startedAt: new Date(Date.now() + 31 * 60_000) });
    await settle(world);
    expect(phone.messages.map((message) => message.json.jobId)).toEqual([tasks[0]!.id, again!.id]);
  });

  it('a sweep waiting in the queue is one reminder, not one per task, and only while none of its tasks started', async () => {
    const t0 = ENDED.getTime();
    let clock = t0;
    const world = await open({ notify: { now: () => new Date(clock) } });
    const phone = await receiver();
    await subscribe(world, phone, { pendingAfterMinutes: 10 });
    const created = new Date(t0 - 60_000);
    const waiting = await addSweep(world, Array(6).fill('PENDING'), { reason: 'Priority', createdAt: created, submittedAt: new Date(t0) });
    await addSweep(world, ['RUNNING', 'PENDING', 'PENDING'], { reason: 'JobArrayTaskLimit', createdAt: created, submittedAt: new Date(t0) });
    const single = await addJob(world, { state: 'PENDING', reason: 'Resources', createdAt: created, submittedAt: new Date(t0) });

    clock = t0 + 9 * 60_000;
    await world.services.notify.checkPending();
    expect(phone.messages).toEqual([]);
    clock = t0 + 15 * 60_000;
    await world.services.notify.checkPending();
    await world.services.notify.checkPending();
    expect(phone.messages.map((message) => message.json)).toEqual([
      expect.objectContaining({ jobId: single.id, state: 'PENDING' }),
      {
        title: 'train-resnet · seed × model still pending',
        body: 'None of its 6 tasks has started after 15 min on alpha (Priority)',
        url: `/sweeps/${waiting.sweep.id}`,
        tag: `sweep-${waiting.sweep.id}`,
        sweepId: waiting.sweep.id,
        state: 'PENDING',
        cluster: 'alpha',
      },
    ]);
  });
});

describe('training curves', () => {
  const isAbout = (job: Job) => (message: { json: any }) => message.json.jobId === job.id;

  // Each announcement comes within a second of the points (the metrics service's batching): these tests take seconds.
  it('a job whose metrics go NaN is one push, naming the step it began at; never again, also after a restart', { timeout: 30_000 }, async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const world = await open({ dbName });
    const [phone, quiet, muted] = [await receiver(), await receiver(), await receiver()];
    await subscribe(world, phone);
    await world.services.notify.register(world.orm.em.fork(), { endpoint: quiet.endpoint, ...quiet.keys, metricNanPushes: false }, null, 1);
    await subscribe(world, muted, { mutedProjectIds: [world.project.id] });
    const job = await addJob(world);
    const healthy = await addJob(world, { name: 'train-vit' });

    await grow(world, [
      logLines(job, [
        { step: 1198, train_loss: 0.51, val_loss: 0.7 },
        { step: 1199, train_loss: 0.5 },
      ]),
      logLines(healthy, [{ step: 10, train_loss: 0.9 }]),
    ]);
    expect(phone.messages).toEqual([]);

    await grow(world, [logLines(job, [{ step: 1200, train_loss: 'NaN' }, { step: 1201, train_loss: 'NaN', val_loss: 0.69 }])]);
    expect(phone.messages.map((message) => message.json)).toEqual([
      { title: `job ${job.id}: train_loss is NaN at step 1,200`, body: 'train-resnet · alpha', url: `/jobs/${job.id}`, tag: `job-${job.id}`, jobId: job.id, state: 'RUNNING', cluster: 'alpha' },
    ]);
    // Still NaN: not news; nor a second metric that follows it a read later (a diverged run is told once).
    await grow(world, [logLines(job, [{ step: 1202, train_loss: 'NaN', val_loss: 'NaN' }])]);
    await grow(world, [logLines(job, [{ step: 1203, train_loss: 'NaN', val_loss: 'NaN' }])]);
    expect(phone.messages.map((message) => message.json.title)).toEqual([`job ${job.id}: train_loss is NaN at step 1,200`]);
    expect(quiet.messages).toEqual([]);
    expect(muted.messages).toEqual([]);
    await close(world);

    const restarted = await open({ dbName });
    await grow(restarted, [logLines(job, [{ step: 1204, train_loss: 'NaN', val_loss: 'NaN' }])]);
    // The same notice announced again, as a watch restarted after a crash could.
    restarted.services.events.publish('metrics:updated', { jobId: job.id, names: ['train_loss', 'val_loss'] });
    await settle(restarted);
    expect(phone.messages).toHaveLength(1);
    // A metric that was NaN and recovered before the next read is not NaN now.
    await grow(restarted, [logLines(healthy, [{ step: 11, train_loss: 'NaN' }, { step: 12, train_loss: 0.8 }])]);
    expect(phone.messages).toHaveLength(1);
    // One push names every metric that diverged at once.
    const diverged = await addJob(restarted);
    await grow(restarted, [logLines(diverged, [{ step: 7, loss: 'NaN', acc: 0.1, grad_norm: 'NaN' }])]);
    expect((await phone.waitFor(isAbout(diverged))).json).toMatchObject({ title: `job ${diverged.id}: grad_norm is NaN at step 7`, body: 'train-resnet · alpha\nAlso loss (NaN at step 7)' });
    expect(phone.messages).toHaveLength(2);
  });

  // Stored directly: the metrics service cannot store an infinity yet (its insert spells it Infinity, which SQLite
  // takes for a column name), so this says how one must be stored to be found.
  it('an infinity is news as NaN is', async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    const job = await addJob(world);
    await storePoints(world, job, [
      { name: 'grad_norm', step: 5, value: 1.5 },
      { name: 'grad_norm', step: 6, value: Infinity },
      { name: 'loss', step: 6, value: -Infinity },
      { name: 'loss', step: 7, value: Number.NaN },
      { name: 'acc', step: 7, value: 0.5 },
    ]);
    expect(phone.messages.map((message) => [message.json.title, message.json.body])).toEqual([[`job ${job.id}: grad_norm is Infinity at step 6`, 'train-resnet · alpha\nAlso loss (-Infinity at step 6)']]);
  });

  it('a job that is not running tells nothing, and a device that turned the pushes off hears none', { timeout: 30_000 }, async () => {
    const world = await open();
    const [phone, quiet] = [await receiver(), await receiver()];
    await subscribe(world, phone);
    const registered = await subscribe(world, quiet);
    await world.services.notify.update(world.orm.em.fork(), registered.endpoint, { metricNanPushes: false, gpuIdlePushes: null }, null);
    const ended = await addJob(world, { state: 'FAILED' });
    await grow(world, [logLines(ended, [{ step: 3, loss: 'NaN' }]), gpuSamples(ended, 0, 30, () => 0)]);
    expect(phone.messages).toEqual([]);

    const running = await addJob(world);
    await grow(world, [logLines(running, [{ step: 3, loss: 'NaN' }]), gpuSamples(running, 0, 30, () => 0)]);
    expect(phone.messages.map((message) => message.json.title).sort()).toEqual([`job ${running.id} is not using its 4 GPUs`, `job ${running.id}: loss is NaN at step 3`]);
    expect(quiet.messages).toEqual([]);
  });

  it('GPUs all under 10 % for 10 minutes while the job runs: one push, not before, not with one GPU busy', { timeout: 30_000 }, async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    const idle = await addJob(world);
    const oneBusy = await addJob(world);
    const idleThenEnded = await addJob(world);
    const single = await addJob(world);
    const busyUntilLately = await addJob(world);

    // 20 samples 30 s apart span 9.5 minutes: not yet.
    await grow(world, [
      gpuSamples(idle, 0, 20, () => 3),
      gpuSamples(oneBusy, 0, 20, (gpu) => (gpu === 2 ? 10 : 0)),
      gpuSamples(idleThenEnded, 0, 20, () => 0),
      gpuSamples(single, 0, 20, () => 9, { gpus: 1 }),
      gpuSamples(busyUntilLately, 0, 20, (_gpu, sample) => (sample < 5 ? 95 : 1)),
    ]);
    expect(phone.messages).toEqual([]);
    await update(world, idleThenEnded, { state: 'COMPLETING' });

    // The 21st sample: ten minutes of samples under 10 % on every GPU.
    await grow(world, [
      gpuSamples(idle, 20, 21, () => 3),
      gpuSamples(oneBusy, 20, 30, (gpu) => (gpu === 2 ? 10 : 0)),
      gpuSamples(idleThenEnded, 20, 30, () => 0),
      gpuSamples(single, 20, 21, () => 9, { gpus: 1 }),
      gpuSamples(busyUntilLately, 20, 24, (_gpu, sample) => (sample < 5 ? 95 : 1)),
    ]);
    expect(phone.messages.map((message) => message.json).sort((a, b) => a.jobId - b.jobId)).toEqual([
      { title: `job ${idle.id} is not using its 4 GPUs`, body: 'train-resnet: under 10 % on every one for 10 min · alpha', url: `/jobs/${idle.id}`, tag: `job-${idle.id}`, jobId: idle.id, state: 'RUNNING', cluster: 'alpha' },
      expect.objectContaining({ title: `job ${single.id} is not using its GPU`, body: 'train-resnet: under 10 % for 10 min · alpha' }),
    ]);
    // Busy until sample 4: idle from sample 5, so ten minutes after it (sample 25), once.
    await grow(world, [gpuSamples(busyUntilLately, 24, 25, () => 1), gpuSamples(idle, 21, 40, () => 0)]);
    expect(phone.messages.filter(isAbout(busyUntilLately))).toEqual([]);
    await grow(world, [gpuSamples(busyUntilLately, 25, 26, () => 1)]);
    await grow(world, [gpuSamples(busyUntilLately, 26, 40, () => 1)]);
    expect(phone.messages.filter(isAbout(busyUntilLately))).toHaveLength(1);
    expect(phone.messages).toHaveLength(3);
  });

  it("counts the GPUs of every node, and a node whose samples stopped is not taken for idle; the window is the config's, reloads included", { timeout: 30_000 }, async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const first = await open({ dbName });
    const twoNodes = () => addJob(first, { input: jobInput(first.project.id, { nodes: 2 }) });
    const [both, oneBusyNode, stalled] = [await twoNodes(), await twoNodes(), await twoNodes()];
    for (const job of [both, oneBusyNode, stalled]) for (const node of ['gpu-a100', 'gpu-h100']) await following(first, job, gpuSamples(job, 0, 0, () => 0, { node }).path);
    await close(first);
    // Read after a restart: the metrics service names a node's GPUs by their node (gpu-h100/gpu0.utilization) only for
    // files it found before it started; found while it runs (onMatch), a job's nodes share gpu0.utilization.
    const world = await open({ dbName, notifications: { gpuIdleMinutes: 30 } });
    // Shortened by a reload of the file, as notifications.gpuIdleMinutes: 1 would be.
    await world.services.applyConfig({ ...world.config, notifications: { ...world.config.notifications!, gpuIdleMinutes: 1 } });
    const phone = await receiver();
    await subscribe(world, phone);
    await grow(world, [
      gpuSamples(both, 0, 3, () => 0, { node: 'gpu-a100' }),
      gpuSamples(both, 0, 3, () => 5, { node: 'gpu-h100', gpus: 2 }),
      gpuSamples(oneBusyNode, 0, 3, () => 0, { node: 'gpu-a100' }),
      gpuSamples(oneBusyNode, 0, 3, () => 80, { node: 'gpu-h100', gpus: 2 }),
      gpuSamples(stalled, 0, 3, () => 80, { node: 'gpu-a100' }),
      gpuSamples(stalled, 0, 3, () => 0, { node: 'gpu-h100', gpus: 2 }),
    ]);
    // Its second node idle for a minute, then silent; its first idle for two minutes since.
    await grow(world, [gpuSamples(stalled, 3, 8, () => 0, { node: 'gpu-a100' })]);
    expect(phone.messages.map((message) => [message.json.jobId, message.json.title, message.json.body])).toEqual([
      [both.id, `job ${both.id} is not using its 6 GPUs`, 'train-resnet: under 10 % on every one for 1 min · alpha'],
    ]);
  });
});

describe('a long wait ended', () => {
  const SUBMITTED = new Date('2026-12-05T03:00:00Z');
  const minutesAfter = (minutes: number) => new Date(SUBMITTED.getTime() + minutes * 60_000);

  it('tells each device whose threshold the wait reached, once per job, when the job starts; off by default', async () => {
    const world = await open();
    const [halfHour, twoHours, unset, muted] = [await receiver(), await receiver(), await receiver(), await receiver()];
    await subscribe(world, halfHour, { startedAfterWaitMinutes: 30 });
    await subscribe(world, twoHours, { startedAfterWaitMinutes: 120 });
    await subscribe(world, unset);
    await subscribe(world, muted, { startedAfterWaitMinutes: 30, mutedProjectIds: [world.project.id] });
    const waited = await addJob(world, { state: 'PENDING', reason: 'Resources', createdAt: SUBMITTED, submittedAt: SUBMITTED });
    const quick = await addJob(world, { state: 'PENDING', createdAt: SUBMITTED, submittedAt: SUBMITTED });

    await update(world, quick, { state: 'RUNNING', reason: null, startedAt: minutesAfter(5) });
    await update(world, waited, { state: 'RUNNING', reason: null, startedAt: minutesAfter(95), nodeList: 'gpu-a100' });
    await settle(world);
    // Later news of the running job, a repeated announcement: not a second start.
    await update(world, waited, { nodeList: 'gpu-a100,gpu-h100' });
    world.services.events.publish('job:updated', snapshot(await world.orm.em.fork().findOneOrFail(Job, { id: waited.id })));
    await settle(world);

    expect(halfHour.messages.map((message) => message.json)).toEqual([
      {
        title: 'train-resnet started',
        body: `Job ${waited.id} started after waiting 1 h 35 min · alpha · gpu-a100`,
        url: `/jobs/${waited.id}`,
        tag: `job-${waited.id}`,
        jobId: waited.id,
        state: 'RUNNING',
        cluster: 'alpha',
      },
    ]);
    expect([twoHours.messages, unset.messages, muted.messages]).toEqual([[], [], []]);
    expect((await subscriptionOf(world, unset))?.startedAfterWaitMinutes).toBeNull();
  });

  it('is not told again after a restart, nor for a job that started and ended between two polls', async () => {
    const dbName = join(scratch(), 'mission-control.sqlite');
    const first = await open({ dbName });
    const phone = await receiver();
    await subscribe(first, phone, { startedAfterWaitMinutes: 10 });
    const job = await addJob(first, { state: 'PENDING', createdAt: SUBMITTED, submittedAt: SUBMITTED });
    await update(first, job, { state: 'RUNNING', startedAt: minutesAfter(60) });
    await settle(first);
    await close(first);
    const world = await open({ dbName });
    await update(world, job, { state: 'RUNNING', startedAt: minutesAfter(60), nodeList: 'gpu-h100' });
    const short = await addJob(world, { state: 'PENDING', createdAt: SUBMITTED, submittedAt: SUBMITTED });
    await update(world, short, { state: 'COMPLETED', exitCode: 0, startedAt: minutesAfter(60), endedAt: minutesAfter(61) });
    await settle(world);
    expect(phone.messages.filter((message) => message.json.title.endsWith('started')).map((message) => message.json.jobId)).toEqual([job.id]);
  });

  it('refuses a threshold that is not a whole number of minutes from 1 to a week, naming the field', async () => {
    const world = await open();
    const phone = await receiver();
    const device = await subscribe(world, phone);
    await expect(world.services.notify.update(world.orm.em.fork(), device.endpoint, { startedAfterWaitMinutes: 0 }, null)).rejects.toMatchObject({ field: 'startedAfterWaitMinutes' });
    await expect(world.services.notify.update(world.orm.em.fork(), device.endpoint, { startedAfterWaitMinutes: 7 * 24 * 60 + 1 }, null)).rejects.toMatchObject({ field: 'startedAfterWaitMinutes' });
    expect((await world.services.notify.update(world.orm.em.fork(), device.endpoint, { startedAfterWaitMinutes: 45 }, null)).startedAfterWaitMinutes).toBe(45);
    expect((await world.services.notify.update(world.orm.em.fork(), device.endpoint, { startedAfterWaitMinutes: null }, null)).startedAfterWaitMinutes).toBeNull();
  });
});

describe('a job requeued under its SLURM id', () => {
  // The poll's squeue lines of job 4242 as the lab printed them around `scontrol requeue` (Slurm 22.05.8).
  const queue = {
    running: '4242|RUNNING|None|cpu-01|2026-12-05T05:22:32|NONE|0:04|/home/me/code',
    requeued: '4242|PENDING|BeginTime||2026-12-05T05:24:37|NONE|0:00|/home/me/code',
    runningAgain: '4242|RUNNING|None|cpu-01|2026-12-05T05:24:53|NONE|0:17|/home/me/code',
    completed: '4242|COMPLETED|None|cpu-01|2026-12-05T05:24:53|2026-12-05T05:25:19|0:26|/home/me/code',
  };
  const accounting = '4242|COMPLETED|None|0:0|2026-12-05T05:24:53|2026-12-05T05:25:19|00:00:26|cpu-01|/home/me/code';
  const pollSays = async (world: World, line: string) => {
    // An ended job is asked of accounting too, which gives its exit code.
    world.poll = { queue: [line], accounting: line === queue.completed ? [accounting] : [] };
    await world.services.poller.pollNow('alpha');
    await settle(world);
  };

  it('is one push per restart, through the real poll, and the end push only at the real end', async () => {
    const world = await open();
    const phone = await receiver();
    const off = await receiver();
    await subscribe(world, phone);
    await world.services.notify.register(world.orm.em.fork(), { endpoint: off.endpoint, ...off.keys, requeuePushes: false }, null, 1);
    const job = await addJob(world, { state: 'PENDING', startedAt: null });
    for (const line of [queue.running, queue.requeued, queue.requeued, queue.runningAgain, queue.runningAgain]) await pollSays(world, line);
    expect(phone.messages.map((message) => message.json)).toEqual([
      { title: 'train-resnet requeued', body: `Job ${job.id} requeued (restart 1) · alpha`, url: `/jobs/${job.id}`, tag: `job-${job.id}`, jobId: job.id, state: 'PENDING', cluster: 'alpha' },
    ]);
    await pollSays(world, queue.completed);
    expect(phone.messages.map((message) => message.json.title)).toEqual(['train-resnet requeued', 'train-resnet completed']);
    expect(off.messages.map((message) => message.json.title)).toEqual(['train-resnet completed']);
    expect((await world.orm.em.fork().findOneOrFail(Job, { id: job.id })).restarts).toBe(1);
  });

  it("says 'at its time limit (1 of 3)' when the job's own script requeued itself, once though the queue tells it again", async () => {
    const world = await open();
    const phone = await receiver();
    await subscribe(world, phone);
    const job = await addJob(world, { state: 'PENDING', startedAt: null, input: { ...input(world.project.id), resume: { maxRestarts: 3 } } as JobInput });
    await pollSays(world, queue.running);
    const em = world.orm.em.fork();
    const row = await em.findOneOrFail(Job, { id: job.id });
    const change = changeOf(row);
    requeued(row, new Date('2026-12-05T05:23:30'), 'time-limit');
    await saveAndAnnounce(em, world.services.events, [change]);
    await settle(world);
    await pollSays(world, queue.requeued);
    expect(phone.messages.map((message) => message.json.body)).toEqual([`Job ${job.id} requeued at its time limit (1 of 3) · alpha`]);
  });
});

describe('a time limit near', () => {
  const NOW = new Date('2026-12-05T06:00:00Z');
  const minutesOn = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

  it("warns each device that asked once, 15 minutes before SLURM's end of a running job without resume; off by default", async () => {
    const world = await open({ notify: { now: () => NOW } });
    const [asked, unset, muted] = [await receiver(), await receiver(), await receiver()];
    await world.services.notify.register(world.orm.em.fork(), { endpoint: asked.endpoint, ...asked.keys, timeLimitPushes: true }, null, 1);
    await subscribe(world, unset);
    await world.services.notify.register(world.orm.em.fork(), { endpoint: muted.endpoint, ...muted.keys, timeLimitPushes: true, mutedProjectIds: [world.project.id] }, null, 1);
    const soon = await addJob(world, { timeLimitAt: minutesOn(14) });
    await addJob(world, { timeLimitAt: minutesOn(40) });
    await addJob(world, { timeLimitAt: null });
    await addJob(world, { timeLimitAt: minutesOn(10), input: { ...input(world.project.id), resume: { maxRestarts: 2 } } as JobInput });
    await addJob(world, { state: 'PENDING', timeLimitAt: minutesOn(5) });

    await world.services.notify.checkTimeLimits();
    await world.services.notify.checkTimeLimits();
    await settle(world);
    expect(asked.messages.map((message) => message.json)).toEqual([
      { title: `job ${soon.id} reaches its time limit in 14 min`, body: 'train-resnet · alpha · SLURM ends it then', url: `/jobs/${soon.id}`, tag: `job-${soon.id}`, jobId: soon.id, state: 'RUNNING', cluster: 'alpha' },
    ]);
    expect([unset.messages, muted.messages]).toEqual([[], []]);
    expect((await subscriptionOf(world, unset))?.timeLimitPushes).toBe(false);
  });

  it("takes the moment from the poll's squeue line: SLURM's start plus the partition's DefaultTime when none was asked", async () => {
    const world = await open({ notify: { now: () => NOW } });
    const job = await addJob(world, { state: 'PENDING', startedAt: null });
    // What squeue printed for a job launched on the lab's gpu partition without --time (DefaultTime=01:00:00), in this server's zone.
    const local = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    world.poll = { queue: [`4242|RUNNING|None|gpu-a100|${local(minutesOn(-50))}|${local(minutesOn(10))}|50:00|/home/me/code`], accounting: [] };
    await world.services.poller.pollNow('alpha');
    expect((await world.orm.em.fork().findOneOrFail(Job, { id: job.id })).timeLimitAt).toEqual(minutesOn(10));
  });
});

describe('destinations beyond Web Push (ntfy, webhooks, email)', () => {
  const TOKEN = 'tk_ntfy_token_7Q2';
  const PASSWORD = 'smtp-password-9Z4';
  const HOOK_PATH = '/hooks/T000/B000/hook-secret-path';

  const destination = (name: string, fields: Record<string, unknown>) => ({ name, events: ['jobEnd', 'sweepEnd', 'reauth'], mutedProjects: [], ...fields }) as unknown as DestinationConfig;
  const http = async (mode?: HttpReceiverMode) => {
    const started = await startHttpReceiver(mode);
    servers.push(started);
    return started;
  };
  const secrets = () => {
    const dir = scratch();
    writeFileSync(join(dir, 'ntfy-token'), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'smtp-password'), `${PASSWORD}\n`, { mode: 0o600 });
    return { tokenFile: join(dir, 'ntfy-token'), passwordFile: join(dir, 'smtp-password') };
  };

  /** An ntfy topic, a Slack webhook and a mailbox, each on its local receiver; the phone besides. */
  async function channels(extra: Partial<Record<'ntfy' | 'chat' | 'mail', Record<string, unknown>>> = {}) {
    const { tokenFile, passwordFile } = secrets();
    const ntfy = await http();
    const chat = await http();
    const smtp = await startSmtpReceiver({ user: 'mc', password: PASSWORD });
    servers.push(smtp);
    const destinations = {
      ntfy: destination('ntfy', { type: 'ntfy', url: `${ntfy.url}/mc-topic`, tokenFile, priority: 'high', ...extra.ntfy }),
      chat: destination('chat', { type: 'webhook', format: 'slack', url: `${chat.url}${HOOK_PATH}`, ...extra.chat }),
      mail: destination('mail', { type: 'email', to: ['jdoe@uni.example.edu'], from: 'Mission Control <mc@uni.example.edu>', smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: 'mc', passwordFile }, ...extra.mail }),
    };
    return { ntfy, chat, smtp, destinations };
  }

  it("a job's end reaches a phone, an ntfy topic, a Slack webhook and a mailbox once each, each secret read from its file", async () => {
    const { ntfy, chat, smtp, destinations } = await channels();
    const world = await open({ notifications: { destinations } });
    world.config.server = { ...defaultServerConfig, publicUrl: 'https://mc.uni.example.edu' };
    world.log = 'epoch 3 loss 0.31\n';
    const phone = await receiver();
    await subscribe(world, phone);
    const job = await addJob(world);
    const end = { state: 'FAILED' as JobState, exitCode: 3, endedAt: new Date() };
    await update(world, job, end);
    await update(world, job, end);
    await settle(world);

    expect(phone.messages.map((message) => message.json.title)).toEqual(['train-resnet failed']);
    expect(ntfy.items).toHaveLength(1);
    expect(ntfy.items[0]).toMatchObject({ method: 'POST', path: '/', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    expect(ntfy.items[0]!.json).toEqual({ topic: 'mc-topic', title: 'train-resnet failed', message: 'Exit code 3 · alpha\nepoch 3 loss 0.31', priority: 4, tags: ['x'], click: `https://mc.uni.example.edu/jobs/${job.id}` });
    expect(chat.items).toHaveLength(1);
    expect(chat.items[0]!.path).toBe(HOOK_PATH);
    expect(chat.items[0]!.json.text).toBe(`*train-resnet failed*\nExit code 3 · alpha\nepoch 3 loss 0.31\n<https://mc.uni.example.edu/jobs/${job.id}|Open in Mission Control>`);
    expect(chat.items[0]!.json.blocks[1].elements[0].url).toBe(`https://mc.uni.example.edu/jobs/${job.id}`);
    expect(smtp.items).toHaveLength(1);
    expect(smtp.items[0]).toMatchObject({ user: 'mc', from: 'mc@uni.example.edu', to: ['jdoe@uni.example.edu'], subject: 'train-resnet failed' });
    expect(smtp.items[0]!.text).toContain(`Exit code 3 · alpha\nepoch 3 loss 0.31\n\nhttps://mc.uni.example.edu/jobs/${job.id}`);
    expect(smtp.items[0]!.html).toContain(`<a href="https://mc.uni.example.edu/jobs/${job.id}">Open in Mission Control</a>`);
    expect(world.services.notify.destinations().map(({ name, lastSuccessAt, lastError }) => ({ name, ok: lastSuccessAt !== null, lastError }))).toEqual([
      { name: 'ntfy', ok: true, lastError: null },
      { name: 'chat', ok: true, lastError: null },
      { name: 'mail', ok: true, lastError: null },
    ]);
  });

  it("follows each destination's mutes (projects by name) and notices, as a device's", async () => {
    const { ntfy, chat, smtp, destinations } = await channels({ ntfy: { mutedProjects: ['speech'] }, chat: { events: ['reauth'] }, mail: { events: ['jobEnd'] } });
    const world = await open({ notifications: { destinations } });
    const speech = await addJob(world, { projectId: world.otherProject.id, name: 'asr' });
    const vision = await addJob(world, { name: 'vit' });
    await update(world, speech, { state: 'COMPLETED', exitCode: 0, endedAt: new Date() });
    await update(world, vision, { state: 'COMPLETED', exitCode: 0, endedAt: new Date() });
    world.services.events.publish('cluster:status', {
      name: 'alpha', userId: 1, transport: 'openssh', host: 'alpha.example.edu', reachable: false, latencyMs: null, slurmVersion: null, partitions: [], error: null, checkedAt: new Date(),
      stale: true, needsReauth: 'ssh me@alpha.example.edu true', lastPollAt: new Date(), lastPollError: null, connectionHelp: null,
    } as ClusterStatus);
    await settle(world);
    expect(ntfy.items.map((item) => item.json.title).sort()).toEqual(['alpha needs you to log in again', 'vit completed']);
    expect(chat.items.map((item) => item.json.text.split('\n')[0])).toEqual(['*alpha needs you to log in again*']);
    expect(smtp.items.map((item) => item.subject).sort()).toEqual(['asr completed', 'vit completed']);
  });

  it('tries a failing destination 3 times with backoff, a refusing one once; one that hangs delays nobody else', async () => {
    const down = await http(503);
    const refusing = await http(400);
    const hanging = await http('hang');
    const good = await http();
    const prometheus = createPrometheus();
    const world = await open({
      notify: { sendTimeoutMs: 400, destinations: { retryBaseMs: 50, retryCapMs: 100 }, notificationsSent: prometheus.notificationsSent },
      notifications: {
        destinations: {
          down: destination('down', { type: 'ntfy', url: `${down.url}/t` }),
          refusing: destination('refusing', { type: 'webhook', format: 'discord', url: `${refusing.url}/x` }),
          hanging: destination('hanging', { type: 'webhook', format: 'mattermost', url: `${hanging.url}/x` }),
          good: destination('good', { type: 'webhook', format: 'json', url: `${good.url}/x` }),
        },
      },
    });
    const phone = await receiver();
    await subscribe(world, phone);
    const job = await addJob(world, { slurmJobId: null, state: 'PENDING' });
    const endedAt = Date.now();
    await update(world, job, { state: 'CANCELLED', endedAt: new Date() });
    await good.waitFor(() => true, 5000);
    await phone.waitFor(() => true, 5000);
    // Well before the hanging destination's first try times out (400 ms).
    expect(good.items[0]!.at - endedAt).toBeLessThan(300);
    expect(good.items[0]!.json).toMatchObject({ title: 'train-resnet was cancelled', url: `/jobs/${job.id}`, jobId: job.id, state: 'CANCELLED', link: null });
    await settle(world);
    expect(down.items).toHaveLength(3);
    expect(refusing.items).toHaveLength(1);
    expect(hanging.items).toHaveLength(3);
    expect(good.items).toHaveLength(1);
    const status = Object.fromEntries(world.services.notify.destinations().map((entry) => [entry.name, entry.lastError]));
    expect(status).toEqual({ down: 'HTTP 503: {"error":"status 503"}', refusing: 'HTTP 400: {"error":"status 400"}', hanging: 'no answer in time', good: null });
    expect(logged.filter((line) => line.includes('destination down (ntfy): not sent: HTTP 503'))).toHaveLength(1);
    // Counted once per message and recipient, whatever the tries.
    const counted = (await prometheus.notificationsSent.get()).values.map(({ labels, value }) => `${labels.channel} ${labels.result} ${value}`).sort();
    expect(counted).toEqual(['ntfy failed 1', 'webhook failed 2', 'webhook ok 1', 'webpush ok 1']);
  });

  it("a server that stops does not wait for a destination's next try", async () => {
    const down = await http(503);
    const world = await open({ notify: { destinations: { retryBaseMs: 60_000, retryCapMs: 60_000 } }, notifications: { destinations: { down: destination('down', { type: 'ntfy', url: `${down.url}/t` }) } } });
    const job = await addJob(world, { slurmJobId: null, state: 'PENDING' });
    await update(world, job, { state: 'CANCELLED', endedAt: new Date() });
    await down.waitFor(() => true, 5000);
    const stopping = Date.now();
    await close(world);
    // Its backoff before the second try is up to a minute: the stop gives that message up instead.
    expect(Date.now() - stopping).toBeLessThan(2000);
    expect(down.items.length).toBeLessThan(3);
  });

  it('shows destinations without their secrets, and sends a test on request', async () => {
    const { ntfy, chat, destinations } = await channels();
    const dir = scratch();
    writeFileSync(join(dir, 'bad-url'), 'not-a-url bad-url-secret-31', { mode: 0o600 });
    const world = await open({ notifications: { destinations: { ...destinations, broken: destination('broken', { type: 'webhook', format: 'json', urlFile: join(dir, 'bad-url') }) } } });
    const shown = world.services.notify.destinations();
    expect(shown.map(({ name, type, target, format, events }) => ({ name, type, target, format, events }))).toEqual([
      { name: 'ntfy', type: 'ntfy', target: `${new URL(ntfy.url).host}/mc-topic`, format: null, events: ['jobEnd', 'sweepEnd', 'reauth'] },
      { name: 'chat', type: 'webhook', target: new URL(chat.url).host, format: 'slack', events: ['jobEnd', 'sweepEnd', 'reauth'] },
      { name: 'mail', type: 'email', target: 'jdoe@uni.example.edu via 127.0.0.1', format: null, events: ['jobEnd', 'sweepEnd', 'reauth'] },
      { name: 'broken', type: 'webhook', target: 'URL from urlFile', format: 'json', events: ['jobEnd', 'sweepEnd', 'reauth'] },
    ]);
    const tested = await world.services.notify.testDestination('ntfy');
    expect(tested).toMatchObject({ ok: true, error: null, destination: { name: 'ntfy', lastError: null } });
    expect(tested.destination.lastSuccessAt).toBeInstanceOf(Date);
    expect(ntfy.items.map((item) => item.json.title)).toEqual(['Mission Control test']);
    const failed = await world.services.notify.testDestination('broken');
    expect(failed).toMatchObject({ ok: false, error: 'urlFile does not hold an http:// or https:// URL', destination: { lastSuccessAt: null, lastError: 'urlFile does not hold an http:// or https:// URL' } });
    await expect(world.services.notify.testDestination('nope')).rejects.toThrow('no notification destination named "nope" in the config');
    const everything = JSON.stringify([world.services.notify.destinations(), failed]) + logged.join('\n');
    for (const secret of [TOKEN, PASSWORD, 'hook-secret-path', 'bad-url-secret-31']) expect(everything).not.toContain(secret);
  });
});
