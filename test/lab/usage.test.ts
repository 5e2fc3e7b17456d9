// Usage analytics on the lab, through the real server: GPU jobs launched through the API (one pending behind another
// until its GPUs are free) and one submitted with sbatch over ssh, outside the server. The daily sacct read (its
// first check after start, then the read itself once more for the jobs' ends) picks the outside job up; the usage
// query's GPU-hours and queue waits are what SLURM's own sacct says of the same jobs, computed here from sacct's text.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SacctJob, SacctRead } from '../../server/db/entities.js';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab usage suite');
const NAME = `mc-usage-${process.pid}`;

/** One job as sacct prints it, read here on its own terms (not with the server's parser). */
interface SacctLine {
  id: string;
  partition: string;
  gpus: number;
  gpuType: string | null;
  submit: number;
  start: number | null;
  end: number | null;
}

function readSacct(since: string): SacctLine[] {
  const { stdout, status } = onLab(lab!, `SLURM_TIME_FORMAT=standard sacct -X -n -P -S ${since} -E now -u $(id -un) -o JobID,Partition,AllocTRES,ReqTRES,Submit,Start,End,State`);
  expect(status, stdout).toBe(0);
  const time = (text: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text) ? Date.parse(text) : null);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.split('|'))
    .filter(([id]) => /^\d+(_\d+)?$/.test(id!))
    .map(([id, partition, alloc, req, submit, start, end, state]) => {
      const started = time(start!);
      const tres = alloc || (started === null ? req! : '');
      const total = /(?:^|,)gres\/gpu=(\d+)/.exec(tres);
      const types = [...tres.matchAll(/gres\/gpu:([^=,]+)=\d+/g)].map((match) => match[1]!);
      const gpus = Number(total?.[1] ?? 0);
      return { id: id!, partition: partition!, gpus, gpuType: gpus === 0 ? null : types.length === 1 ? types[0]! : 'any', submit: time(submit!)!, start: started, end: /RUNNING|PENDING/.test(state!) ? null : time(end!) };
    });
}

/** Nearest-rank percentile of whole-second waits. */
function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.max(1, Math.ceil(fraction * sorted.length)) - 1]!;
}

describe.skipIf(!lab)('usage on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let startedAt: Date;
  const ours: Record<string, { id: number; slurmJobId: string }> = {};
  let outside: string;

  async function submit(projectId: number, gres: { gpus: number; type: string }, sleep: number) {
    const input = { projectId, cluster: 'lab', primary: 'train', partition: 'gpu', gpusPerNode: gres.gpus, gpuType: gres.type, cpusPerTask: 1, memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: sleep }] };
    const data = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id slurmJobId } } ... on Error { message } } }`, { input });
    if (data.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(data.submitJob)}`);
    return data.submitJob.data as { id: number; slurmJobId: string };
  }
  const state = async (id: number) => (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state as string;

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-usage-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    // Whole seconds: SLURM's times have no fraction.
    startedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
    // Outside the server: one H100 for 8 s, submitted over ssh as a user would.
    const sbatch = onLab(lab!, `sbatch --parsable -J ${NAME} -p gpu --gres=gpu:h100:1 -c 1 --mem=100M --time=3 -o /dev/null --wrap 'sleep 8'`);
    expect(sbatch.status, sbatch.stdout).toBe(0);
    outside = sbatch.stdout.trim();
    // Two A100s for 20 s; then all four, which waits until the first is done; one H100 beside them.
    ours.first = await submit(projectId, { gpus: 2, type: 'a100' }, 20);
    ours.waiting = await submit(projectId, { gpus: 4, type: 'a100' }, 4);
    ours.h100 = await submit(projectId, { gpus: 1, type: 'h100' }, 4);
  });
  afterAll(async () => {
    onLab(lab!, `scancel -n ${NAME}`);
    await running?.stop();
  });

  it('reads the job launched outside the server in its first check after start, and counts it once', { timeout: 240_000 }, async () => {
    for (const job of Object.values(ours)) await expect.poll(() => state(job.id), { timeout: 180_000, interval: 2000 }).toMatch(/^(COMPLETED|FAILED)$/);
    for (const job of Object.values(ours)) expect(await state(job.id)).toBe('COMPLETED');
    // The server's first check reads the never-read lab 30 s after its start.
    const em = () => running.services.orm.em.fork();
    await expect.poll(async () => (await em().findOne(SacctRead, { cluster: 'lab' }))?.readAt ?? null, { timeout: 90_000, interval: 2000 }).not.toBeNull();
    // Once more, as the next day's read would: the outside job's end, if the first read saw it running.
    await expect.poll(() => onLab(lab!, `squeue -h -j ${outside} -t all -o %T`).stdout.trim(), { timeout: 60_000, interval: 2000 }).not.toMatch(/PENDING|RUNNING|COMPLETING/);
    await running.services.usage.readAccounting('lab', 1);
    const stored = await em().findOne(SacctJob, { cluster: 'lab', slurmJobId: outside });
    expect(stored).toMatchObject({ state: 'COMPLETED', gpuCount: 1, gpuType: 'h100', slurmPartition: 'gpu' });
    // Our own jobs are not stored again as launched elsewhere.
    expect(await em().count(SacctJob, { cluster: 'lab', slurmJobId: { $in: Object.values(ours).map((job) => job.slurmJobId) } })).toBe(0);
  });

  it("returns the GPU-hours and queue waits sacct says for the jobs that ran", { timeout: 60_000 }, async () => {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    const result = await request(
      `query($from: DateTime!, $to: DateTime!) { usage(from: $from, to: $to, groupBy: GPU_TYPE) { __typename ... on QueryUsageSuccess { data { gpuHours { key gpuHours } groups { key gpuHours } waits { cluster partition gpuType last7Days { jobs medianSeconds p90Seconds } } } } ... on Error { message } } }`,
      { from: startedAt.toISOString(), to: to.toISOString() },
    );
    expect(result.usage.__typename, JSON.stringify(result.usage)).toBe('QueryUsageSuccess');
    const usage = result.usage.data;

    // GPU-hours of every job that started since this suite did: ours, the outside one, nothing else (the lock keeps
    // other suites off the lab), per GPU type.
    const since = startedAt.toISOString().slice(0, 19);
    const ran = readSacct(since).filter((job) => job.start !== null && job.start >= startedAt.getTime() && job.gpus > 0);
    expect(ran.map((job) => job.id).sort()).toEqual(expect.arrayContaining([outside, ...Object.values(ours).map((job) => job.slurmJobId)].sort()));
    const expected = new Map<string, number>();
    for (const job of ran) expected.set(job.gpuType!, (expected.get(job.gpuType!) ?? 0) + (job.gpus * (job.end! - job.start!)) / 3_600_000);
    const actual = new Map<string, number>(usage.groups.map((group: { key: string; gpuHours: number }) => [group.key, group.gpuHours]));
    for (const [type, hours] of expected) expect(actual.get(type), `GPU-hours of ${type}`).toBeCloseTo(hours, 6);
    expect([...actual.entries()].filter(([, hours]) => hours > 0).map(([type]) => type).sort()).toEqual([...expected.keys()].sort());
    // The job that waited for the four A100s did wait, about as long as the first one ran.
    const waiting = ran.find((job) => job.id === ours.waiting!.slurmJobId)!;
    expect(waiting.start! - waiting.submit).toBeGreaterThanOrEqual(10_000);

    // Queue waits on the gpu partition this week, by GPU type: every job of the user sacct knows that started in the
    // 7 days before `to` (the first read went 90 days back), ours counted from our own submit time (at most a second
    // after SLURM's, which has no fraction).
    const week = readSacct(new Date(to.getTime() - 8 * 86_400_000).toISOString().slice(0, 19)).filter((job) => job.start !== null && job.start >= to.getTime() - 7 * 86_400_000 && job.start < to.getTime());
    for (const type of ['a100', 'h100']) {
      const waits = week.filter((job) => job.partition === 'gpu' && job.gpuType === type).map((job) => Math.max(0, (job.start! - job.submit) / 1000)).sort((a, b) => a - b);
      const row = usage.waits.find((wait: { cluster: string; partition: string | null; gpuType: string | null }) => wait.cluster === 'lab' && wait.partition === 'gpu' && wait.gpuType === type);
      expect(row?.last7Days?.jobs, `jobs on ${type}`).toBe(waits.length);
      // Waits of 10 min or more are counted to the minute.
      const tolerance = (seconds: number) => (seconds >= 600 ? 60 : 2);
      const median = percentile(waits, 0.5);
      const p90 = percentile(waits, 0.9);
      expect(Math.abs(row.last7Days.medianSeconds - median), `median wait on ${type}: ${row.last7Days.medianSeconds} s, sacct ${median} s`).toBeLessThanOrEqual(tolerance(median));
      expect(Math.abs(row.last7Days.p90Seconds - p90), `p90 wait on ${type}: ${row.last7Days.p90Seconds} s, sacct ${p90} s`).toBeLessThanOrEqual(tolerance(p90));
      console.log(`usage lab suite: ${type} on lab/gpu this week: ${row.last7Days.jobs} jobs, median ${row.last7Days.medianSeconds} s (sacct ${median} s), p90 ${row.last7Days.p90Seconds} s (sacct ${p90} s)`);
    }
    console.log(`usage lab suite: GPU-hours ${JSON.stringify(Object.fromEntries(actual))}, sacct ${JSON.stringify(Object.fromEntries(expected))}`);
  });
});
