// Training curves on the lab (issue 16), through the real server: while a real job runs, its log's progress-bar
// metrics, its metrics.csv, its TensorBoard event file and its GPU sampler arrive as series with the right values and
// steps, read by the lifecycle watch's one command (no SLURM command), announced over metricsUpdated; a sweep's
// chart returns every task.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient, wsConnectionParams } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

const lab = labForSuite('lab metrics suite');

interface Point {
  step: number;
  value: number | null;
  nonFinite: string | null;
}
type Series = Record<string, Point[]>;

describe.skipIf(!lab)('training curves on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let token: string;
  let projectId: number;

  const job = (extra: Record<string, unknown> = {}) => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, ...extra });

  async function series(id: number): Promise<Series> {
    const data = await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { metrics(maxPoints: 5000) { name total points { step value nonFinite } } } } } }`, { id });
    return Object.fromEntries(data.job.data.metrics.map((entry: { name: string; points: Point[] }) => [entry.name, entry.points]));
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    // GPU samples every 2 s instead of 30 (the job script's knob, through the project's env).
    const settings = readFileSync(join(repo.work, '.mlops-config.yaml'), 'utf8').replace('env:\n', 'env:\n  MC_GPU_SAMPLE_SECONDS: 2\n');
    repo.commit('Sample GPUs every 2 s', { '.mlops-config.yaml': settings });
    const dir = mkdtempSync(join(tmpdir(), 'mc-metrics-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services);
    request = graphqlClient(running.url, token);
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it("reads a running job's log, CSV, TensorBoard file and GPU samples as series that agree, live", async () => {
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, {
      input: job({ gpusPerNode: 1, gpuType: 'a100', parameters: [{ path: 'sleep_seconds', value: 20 }, { path: 'epochs', value: 3 }, { path: 'nan_at_step', value: 13 }] }),
    });
    const id = submitted.submitJob.data.id as number;
    const updates: Array<{ jobId: number; names: string[] }> = [];
    const ws = createClient({ url: running.url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: wsConnectionParams(token) });
    const stop = ws.subscribe({ query: `subscription($ids: [Int!]!) { metricsUpdated(jobIds: $ids) { jobId names } }`, variables: { ids: [id] } }, { next: (event) => updates.push((event.data as any).metricsUpdated), error: () => undefined, complete: () => undefined });

    // While it runs, the curve grows: some points first, more later.
    let early: Series = {};
    await expect.poll(async () => ((early = await series(id)).loss ?? []).length, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(2);
    const state = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state;
    expect(state).toBe('RUNNING');
    await expect.poll(async () => (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state, { timeout: 90_000, interval: 1000 }).toBe('COMPLETED');
    // The ended job's files were read one last time.
    let all: Series = {};
    await expect.poll(async () => ((all = await series(id)).train_loss ?? []).length, { timeout: 20_000, interval: 1000 }).toBe(15);
    expect(all.loss!.length).toBeGreaterThan(early.loss!.length);

    // The same loss by the three sources, step by step (the CSV's is exact, the others print it rounded): steps 1..15,
    // NaN from step 13 on in all of them.
    const csv = all.train_loss!;
    expect(csv.map((point) => point.step)).toEqual(Array.from({ length: 15 }, (_, index) => index + 1));
    const tensorboard = new Map(all['train/loss']!.map((point) => [point.step, point]));
    const log = new Map(all.loss!.map((point) => [point.step, point]));
    for (const point of csv) {
      if (point.step >= 13) {
        expect(point).toMatchObject({ value: null, nonFinite: 'NaN' });
        expect(tensorboard.get(point.step)).toMatchObject({ value: null, nonFinite: 'NaN' });
        continue;
      }
      expect(tensorboard.get(point.step)!.value).toBeCloseTo(point.value!, 5);
      const fromLog = log.get(point.step);
      if (fromLog) expect(fromLog.value!).toBeCloseTo(point.value!, 2);
    }
    expect(log.size).toBeGreaterThan(5);
    // The GPU sampler's file (one A100 asked for): utilisation and memory per GPU.
    expect(all['gpu0.utilization']!.length).toBeGreaterThan(2);
    for (const point of all['gpu0.utilization']!) expect(point.value).toBeGreaterThanOrEqual(0);
    expect(all['gpu0.memory_total_mib']![0]!.value).toBeGreaterThan(1000);
    const last = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { metricNames lastMetrics { name step nonFinite } } } } }`, { id })).job.data;
    expect(last.metricNames).toEqual(expect.arrayContaining(['loss', 'train_loss', 'val_acc', 'train/loss', 'gpu0.utilization']));
    expect(last.lastMetrics.find((metric: { name: string }) => metric.name === 'train_loss')).toMatchObject({ step: 15, nonFinite: 'NaN' });

    // Announced as it went, at most once a second.
    expect(updates.length).toBeGreaterThan(3);
    expect([...new Set(updates.flatMap((update) => update.names))]).toEqual(expect.arrayContaining(['loss', 'train_loss', 'gpu0.utilization']));
    expect(updates.every((update) => update.jobId === id)).toBe(true);
    stop();
    await ws.dispose();
  });

  it("returns one series per task of a sweep", async () => {
    const sweep = await request(`mutation($input: SweepInput!) { submitSweep(input: $input) { ... on MutationSubmitSweepSuccess { data { id size } } ... on Error { message } } }`, {
      input: { job: job({ parameters: [{ path: 'sleep_seconds', value: 3 }] }), sweep: ['seed=1,2,3'] },
    });
    const sweepId = sweep.submitSweep.data.id;
    const chart = async () =>
      (await request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { endedAt metrics(name: "train_loss", maxPoints: 100) { index series { total } } } } } }`, { id: sweepId })).sweep.data;
    await expect.poll(async () => {
      const data = await chart();
      return data.endedAt !== null && data.metrics.every((entry: { series: { total: number } }) => entry.series.total === 5) ? data.metrics.map((entry: { index: number }) => entry.index) : null;
    }, { timeout: 90_000, interval: 1000 }).toEqual([0, 1, 2]);
  });
});
