// Pushes from training curves on the lab (issue 16), through the real server and a device registered over GraphQL to
// a local push receiver: a real job whose loss turns NaN is told once per metric, naming the step it diverged at; a
// real job whose GPU sampler sees an idle GPU for notifications.gpuIdleMinutes is told once; a busy one is not. The
// GPU's utilisation is forced per job through the project's env (MC_FAKE_GPU_UTILIZATION, read by the lab's
// stand-in nvidia-smi), never lab-wide, so suites running beside this one are not touched.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { startPushReceiver, type PushReceiver, type ReceivedPush } from '../push-receiver.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

const lab = labForSuite('lab metric pushes suite');

/** Seconds of idle GPU before the push: a quarter of a minute, so the suite stays short. */
const IDLE_MINUTES = 0.25;
/** The step the NaN job's metrics diverge at (of 15: 3 epochs of 5 steps over SLEEP seconds). */
const NAN_AT_STEP = 4;
/** Steps per epoch of the fixture's train.py: its validation metrics first go NaN at the end of that epoch. */
const STEPS_PER_EPOCH = 5;
const VALIDATION_NAN_AT_STEP = Math.ceil(NAN_AT_STEP / STEPS_PER_EPOCH) * STEPS_PER_EPOCH;
/** Each job's run: the NaN comes at about 8 s, the idle window is over at about 17 s; both well before the end. */
const SLEEP = 30;

describe.skipIf(!lab)('metric pushes on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let phone: PushReceiver;
  const jobs = { nan: 0, idle: 0, busy: 0 };

  const about = (id: number) => (message: ReceivedPush) => message.json?.jobId === id;
  // A job's end is told too ("train completed"); the pushes about a running job are the metric ones.
  const whileRunning = (id: number) => (message: ReceivedPush) => about(id)(message) && message.json.state === 'RUNNING';
  const isNan = (message: ReceivedPush) => / is (NaN|-?Infinity)( at step |$)/.test(message.json?.title ?? '');
  const isGpuIdle = (message: ReceivedPush) => /is not using its/.test(message.json?.title ?? '');

  async function state(id: number): Promise<string> {
    return (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state;
  }

  async function submit(projectId: number, parameters: Array<{ path: string; value: unknown }>, gpu: boolean): Promise<number> {
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, ...(gpu ? { gpusPerNode: 1, gpuType: 'a100' } : {}), parameters };
    const data = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input });
    if (data.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(data.submitJob)}`);
    return data.submitJob.data.id as number;
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const settings = readFileSync(join(repo.work, '.mlops-config.yaml'), 'utf8');
    // GPU samples every 2 s instead of 30 (the job script's knob, through the project's env).
    const sampled = settings.replace('env:\n', 'env:\n  MC_GPU_SAMPLE_SECONDS: 2\n');
    repo.commit('Sample GPUs every 2 s', { '.mlops-config.yaml': sampled });
    const dir = mkdtempSync(join(tmpdir(), 'mc-metric-pushes-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!) + stringify({ notifications: { allowLoopbackHttpEndpoints: true, gpuIdleMinutes: IDLE_MINUTES } }));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));

    phone = await startPushReceiver();
    const registered = await request(
      `mutation($input: PushSubscriptionInput!) { registerPushSubscription(input: $input) { __typename ... on MutationRegisterPushSubscriptionSuccess { data { metricNanPushes gpuIdlePushes } } ... on Error { message } } }`,
      { input: { endpoint: phone.endpoint, ...phone.keys } },
    );
    expect(registered.registerPushSubscription).toEqual({ __typename: 'MutationRegisterPushSubscriptionSuccess', data: { metricNanPushes: true, gpuIdlePushes: true } });

    const projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
    const run = [{ path: 'sleep_seconds', value: SLEEP }, { path: 'epochs', value: 3 }];
    // The three run side by side; a job launches HEAD, so the idle one's GPU is forced only from its own commit on.
    jobs.nan = await submit(projectId, [...run, { path: 'nan_at_step', value: NAN_AT_STEP }], false);
    jobs.busy = await submit(projectId, run, true);
    repo.commit('Idle GPUs', { '.mlops-config.yaml': sampled.replace('env:\n', 'env:\n  MC_FAKE_GPU_UTILIZATION: 0\n') });
    jobs.idle = await submit(projectId, run, true);
  });
  afterAll(async () => {
    await running?.stop();
    await phone?.close();
  });

  it('tells a job whose metrics go NaN once, with the step it diverged at', { timeout: 90_000 }, async () => {
    const first = await phone.waitFor((message) => about(jobs.nan)(message) && isNan(message), 60_000);
    // Sent while the job runs (a finished job's NaN is old news: its end's push tells it).
    expect(first.json).toMatchObject({ jobId: jobs.nan, state: 'RUNNING', cluster: 'lab', url: `/jobs/${jobs.nan}` });
    expect(first.json.title).toMatch(new RegExp(`^job ${jobs.nan}: \\S+ is NaN at step ${NAN_AT_STEP}$`));

    await expect.poll(() => state(jobs.nan), { timeout: 60_000, interval: 1000 }).toBe('COMPLETED');
    // A few seconds more: the ended job's last read, and its metrics that went NaN a read later (the loss from its
    // other sources), bring no second push.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(phone.messages.filter(whileRunning(jobs.nan))).toEqual([first]);
    // What it named ("job 7: loss is NaN at step 4", "Also train_loss (NaN at step 4), ...") did end NaN, at the step
    // each series became NaN: a training metric at NAN_AT_STEP, a validation one at the end of that epoch (named too
    // when the server's read came after the epoch's validation row, as it may on a loaded machine).
    const named = [/^job \d+: (\S+) is NaN at step ([\d,]+)$/.exec(first.json.title)!, ...(first.json.body as string).matchAll(/(?:Also |, )(\S+) \(NaN at step ([\d,]+)\)/g)];
    const last = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { lastMetrics { name nonFinite } } } } }`, { id: jobs.nan })).job.data.lastMetrics;
    const nonFinite = last.filter((metric: { nonFinite: string | null }) => metric.nonFinite !== null).map((metric: { name: string }) => metric.name);
    for (const [, name, step] of named) {
      expect(nonFinite).toContain(name);
      expect(step, `the step named for ${name}`).toBe(String(/^val[/_]/.test(name!) ? VALIDATION_NAN_AT_STEP : NAN_AT_STEP));
    }
    expect(nonFinite).toEqual(expect.arrayContaining(['loss', 'train_loss', 'train/loss']));
    expect(phone.errors).toEqual([]);
  });

  it("tells a running job's idle GPU once after notifications.gpuIdleMinutes; a busy GPU is not news", { timeout: 90_000 }, async () => {
    const idle = await phone.waitFor((message) => about(jobs.idle)(message) && isGpuIdle(message), 60_000);
    expect(idle.json).toMatchObject({ title: `job ${jobs.idle} is not using its GPU`, jobId: jobs.idle, state: 'RUNNING', cluster: 'lab', url: `/jobs/${jobs.idle}` });
    expect(idle.json.body).toMatch(/^\S+: under 10 % for under a minute · lab$/);
    // The samples that made it: every one of its GPU's under 10 %, the busy job's all over.
    const utilization = async (id: number) =>
      (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { metrics(names: ["gpu0.utilization"], maxPoints: 1000) { points { value } } } } } }`, { id })).job.data.metrics[0]?.points.map(
        (point: { value: number }) => point.value,
      ) ?? [];

    for (const id of [jobs.idle, jobs.busy]) await expect.poll(() => state(id), { timeout: 60_000, interval: 1000 }).toBe('COMPLETED');
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const idleSamples: number[] = await utilization(jobs.idle);
    const busySamples: number[] = await utilization(jobs.busy);
    // Both ran long enough for the window (15 s at a sample every 2 s).
    expect(idleSamples.length).toBeGreaterThan(8);
    expect(busySamples.length).toBeGreaterThan(8);
    expect(idleSamples.every((value) => value < 10)).toBe(true);
    expect(busySamples.every((value) => value >= 10)).toBe(true);
    expect(phone.messages.filter(whileRunning(jobs.idle))).toEqual([idle]);
    expect(phone.messages.filter(whileRunning(jobs.busy))).toEqual([]);
    // Their ends were told, as ends are: the idle push is not instead of that.
    for (const id of [jobs.idle, jobs.busy]) expect(phone.messages.filter(about(id)).map((message) => message.json.state)).toContain('COMPLETED');
    expect(phone.errors).toEqual([]);
  });
});
