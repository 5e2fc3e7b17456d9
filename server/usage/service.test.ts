// The usage aggregates against rows whose answers are worked out by hand, on a real SQLite database with the
// migrations applied (the triggers that read each job's GPUs from its settings included).
import type { EntityManager } from '@mikro-orm/knex';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testEngine } from '../../test/database-engine.js';
import { createJobRow, insertProject, jobInput } from '../../test/factories.js';
import type { ClusterService } from '../clusters/service.js';
import { ClusterCheck, SacctJob, SacctRead } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ValidationError } from '../errors.js';
import type { JobState } from '../slurm/state.js';
import type { Transport } from '../ssh/index.js';
import { createUsageService, waitStats } from './service.js';
import { createUserService } from '../access/users.js';

const at = (iso: string) => new Date(iso);

let orm: Orm;
beforeEach(async () => {
  orm = await initOrm(':memory:');
});
afterEach(async () => {
  await orm.close();
});

interface Run {
  cluster?: string;
  project?: number;
  gpus?: number;
  nodes?: number;
  gpuType?: string | null;
  partition?: string | null;
  state: JobState;
  submitted: string;
  started?: string | null;
  ended?: string | null;
  slurmJobId?: string;
}

async function ourJob(em: EntityManager, run: Run) {
  const cluster = run.cluster ?? 'hpc';
  const job = createJobRow(em, { cluster, state: run.state, projectId: run.project ?? 1, slurmJobId: run.slurmJobId ?? null });
  job.input = jobInput(run.project ?? 1, { cluster, gpusPerNode: run.gpus ?? 0, nodes: run.nodes ?? 1, gpuType: run.gpuType ?? null, partition: run.partition ?? null });
  job.submittedAt = at(run.submitted);
  job.startedAt = run.started ? at(run.started) : null;
  job.endedAt = run.ended ? at(run.ended) : null;
  await em.flush();
  return job;
}

const noClusters = { names: () => [] } as unknown as ClusterService;

describe('usage', () => {
  it('GPU-hours by week and group, outcomes, success rates; jobs launched elsewhere counted unless they are ours', async () => {
    const em = orm.em.fork();
    const vision = await insertProject(em, 'vision');
    const nlp = await insertProject(em, 'nlp');
    // Week of Mon 2026-11-23: 2 GPUs × 3 h (vision, a100) + 8 GPUs (2 nodes × 4) × 1 h (nlp, h100).
    await ourJob(em, { project: vision.id, gpus: 2, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-11-24T09:00:00Z', started: '2026-11-24T10:00:00Z', ended: '2026-11-24T13:00:00Z', slurmJobId: '100' });
    await ourJob(em, { project: nlp.id, gpus: 4, nodes: 2, gpuType: 'h100', state: 'OUT_OF_MEMORY', submitted: '2026-11-25T10:00:00Z', started: '2026-11-25T10:00:00Z', ended: '2026-11-25T11:00:00Z' });
    // A run from Sunday 29th 23:00 into Monday counts whole, and its outcome, in its start week: 1 GPU × 2 h, week of the 23rd.
    await ourJob(em, { project: vision.id, gpus: 1, gpuType: null, state: 'FAILED', submitted: '2026-11-29T22:00:00Z', started: '2026-11-29T23:00:00Z', ended: '2026-11-30T01:00:00Z' });
    // Week of Mon 2026-11-30: a CPU job (no GPU-hours, an outcome), and a job that never ran (cancelled while pending: its end's week).
    await ourJob(em, { project: vision.id, state: 'COMPLETED', submitted: '2026-12-01T10:00:00Z', started: '2026-12-01T10:00:00Z', ended: '2026-12-01T11:00:00Z' });
    await ourJob(em, { project: nlp.id, gpus: 2, gpuType: 'a100', state: 'CANCELLED', submitted: '2026-12-01T10:00:00Z', ended: '2026-12-01T12:00:00Z' });
    // Out of range; and a submit that SLURM refused (never an outcome).
    await ourJob(em, { project: vision.id, gpus: 8, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-10-01T10:00:00Z', started: '2026-10-01T10:00:00Z', ended: '2026-10-01T20:00:00Z' });
    await ourJob(em, { project: vision.id, state: 'SUBMIT_FAILED', submitted: '2026-12-01T10:00:00Z', ended: '2026-12-01T10:00:00Z' });
    // Launched elsewhere: 4 GPUs × 30 min, TIMEOUT; and our job 100 again as sacct saw it (counted once, as ours).
    const readAt = at('2026-12-02T00:00:00Z');
    em.create(SacctJob, { cluster: 'hpc', userId: 1, slurmJobId: '555', state: 'TIMEOUT', slurmState: 'TIMEOUT', slurmPartition: 'gpu', gpuCount: 4, gpuType: 'a100', exitCode: 0, submittedAt: at('2026-12-01T08:00:00Z'), startedAt: at('2026-12-01T08:30:00Z'), endedAt: at('2026-12-01T09:00:00Z'), readAt });
    em.create(SacctJob, { cluster: 'hpc', userId: 1, slurmJobId: '100', state: 'COMPLETED', slurmState: 'COMPLETED', slurmPartition: 'gpu', gpuCount: 2, gpuType: 'a100', exitCode: 0, submittedAt: at('2026-11-24T09:00:00Z'), startedAt: at('2026-11-24T10:00:00Z'), endedAt: at('2026-11-24T13:00:00Z'), readAt });
    await em.flush();

    const usage = createUsageService({ orm, clusters: noClusters, now: () => at('2026-12-03T00:00:00Z') });
    const byType = await usage.usage(orm.em.fork(), { from: at('2026-11-23T00:00:00Z'), to: at('2026-12-03T00:00:00Z'), groupBy: 'GPU_TYPE' }, null);
    expect(byType.weeks.map((week) => week.toISOString())).toEqual(['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z']);
    expect(byType.gpuHours.map((point) => [point.week.toISOString().slice(0, 10), point.key, point.gpuHours])).toEqual([
      ['2026-11-23', 'a100', 6],
      ['2026-11-23', 'any', 2],
      ['2026-11-23', 'h100', 8],
      ['2026-11-30', 'a100', 2],
    ]);
    const outcomes = byType.outcomes.map((count) => [count.week.toISOString().slice(0, 10), count.key, count.state, count.jobs]);
    expect(outcomes).toEqual([
      ['2026-11-23', 'a100', 'COMPLETED', 1],
      ['2026-11-23', 'any', 'FAILED', 1],
      ['2026-11-23', 'h100', 'OUT_OF_MEMORY', 1],
      ['2026-11-30', 'a100', 'CANCELLED', 1],
      ['2026-11-30', 'a100', 'TIMEOUT', 1],
      ['2026-11-30', 'none', 'COMPLETED', 1],
    ]);
    expect(byType.groups.find((group) => group.key === 'a100')).toMatchObject({ gpuHours: 8, ended: 3, completed: 1, successRate: 1 / 3 });
    expect(byType.groups.find((group) => group.key === 'none')).toMatchObject({ gpuHours: 0, ended: 1, completed: 1, successRate: 1 });

    const byProject = await usage.usage(orm.em.fork(), { from: at('2026-11-23T00:00:00Z'), to: at('2026-12-03T00:00:00Z'), groupBy: 'PROJECT' }, null);
    expect(byProject.groups.map((group) => [group.label, group.gpuHours])).toEqual([
      ['vision', 8],
      ['nlp', 8],
      [null, 2],
    ]);
  });

  it('median and p90 queue waits by cluster, partition and GPU type, over the 7 and 30 days before the end', async () => {
    const em = orm.em.fork();
    await insertProject(em);
    em.create(ClusterCheck, { cluster: 'hpc', reachable: true, partitions: [{ name: 'gpu', isDefault: true, available: true, nodes: 2, states: [] }], checkedAt: new Date() });
    // a100 in the default partition (our launches named none): waits 1, 2, ..., 10 min; the last 4 this week.
    for (let minute = 1; minute <= 10; minute++) {
      const day = minute <= 6 ? '2026-11-10' : '2026-12-01';
      await ourJob(em, { gpus: 1, gpuType: 'a100', state: 'COMPLETED', submitted: `${day}T10:00:00Z`, started: new Date(Date.parse(`${day}T10:00:00Z`) + minute * 60_000).toISOString(), ended: `${day}T18:00:00Z` });
    }
    // A start that reads before our own submit time (SLURM started it while sbatch answered): a wait of 0.
    await ourJob(em, { gpus: 2, gpuType: 'h100', partition: 'big', state: 'RUNNING', submitted: '2026-12-01T10:00:01.500Z', started: '2026-12-01T10:00:01Z' });
    // Started before the 30 days: not counted.
    await ourJob(em, { gpus: 1, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-10-01T10:00:00Z', started: '2026-10-01T20:00:00Z', ended: '2026-10-01T21:00:00Z' });
    const usage = createUsageService({ orm, clusters: noClusters, now: () => at('2026-12-03T00:00:00Z') });
    const waits = await usage.queueWaits(orm.em.fork());
    const row = (partition: string | null, gpuType: string | null) => waits.find((wait) => wait.partition === partition && wait.gpuType === gpuType);
    expect(row('gpu', 'a100')).toEqual({ cluster: 'hpc', partition: 'gpu', gpuType: 'a100', last7Days: { jobs: 4, medianSeconds: 8 * 60, p90Seconds: 10 * 60 }, last30Days: { jobs: 10, medianSeconds: 5 * 60, p90Seconds: 9 * 60 } });
    expect(row('big', 'h100')?.last7Days).toEqual({ jobs: 1, medianSeconds: 0, p90Seconds: 0 });
    expect(row(null, null)?.last30Days).toEqual({ jobs: 11, medianSeconds: 5 * 60, p90Seconds: 9 * 60 });
    expect(row(null, 'a100')?.last30Days?.jobs).toBe(10);
  });

  it('answers from the jobs as they are now: a job stored a moment ago counts at once, no event needed', async () => {
    const usage = createUsageService({ orm, clusters: noClusters });
    const range = { from: at('2026-11-30T00:00:00Z'), to: at('2026-12-07T00:00:00Z'), groupBy: 'CLUSTER' as const };
    const em = orm.em.fork();
    await ourJob(em, { gpus: 1, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-12-01T10:00:00Z', started: '2026-12-01T10:00:00Z', ended: '2026-12-01T11:00:00Z' });
    expect((await usage.usage(orm.em.fork(), range, null)).groups).toMatchObject([{ key: 'hpc', gpuHours: 1 }]);
    await ourJob(em, { gpus: 2, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-12-02T10:00:00Z', started: '2026-12-02T10:00:00Z', ended: '2026-12-02T11:00:00Z' });
    expect((await usage.usage(orm.em.fork(), range, null)).groups).toMatchObject([{ key: 'hpc', gpuHours: 3 }]);
    await usage.stop();
  });

  it('refuses a range that ends before it starts or spans more than a year, naming the field', async () => {
    const usage = createUsageService({ orm, clusters: noClusters });
    const em = orm.em.fork();
    await expect(usage.usage(em, { from: at('2026-12-02T00:00:00Z'), to: at('2026-12-01T00:00:00Z'), groupBy: 'CLUSTER' }, null)).rejects.toThrow(new ValidationError('to', '2026-12-01T00:00:00.000Z is not after from (2026-12-02T00:00:00.000Z)'));
    await expect(usage.usage(em, { from: at('2025-01-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z'), groupBy: 'CLUSTER' }, null)).rejects.toThrow(/^from: the range is 699 days, more than the 366 days one query covers$/);
  });

  // SQLite's plans (it has no statistics, so the indexes are named); PostgreSQL's planner chooses by statistics, and its
  // answer at 100,000 jobs is measured in bench/api.
  it.skipIf(testEngine === 'postgresql')('reads every statement from the rollups and indexes that hold all its columns (no job row is read)', async () => {
    const em = orm.em.fork();
    const statements: string[] = [];
    const knex = em.getConnection().getKnex();
    const listen = (query: { sql: string; bindings?: unknown[] }) => /sacct_job/.test(query.sql) && statements.push(query.sql);
    knex.on('query', listen);
    const usage = createUsageService({ orm, clusters: noClusters });
    // Edges that are not a week's or a day's start: whole weeks and days from the rollups, the rest from the jobs.
    await usage.usage(em, { from: at('2026-10-28T10:00:00Z'), to: at('2026-12-01T10:00:00Z'), groupBy: 'PROJECT' }, null);
    knex.off('query', listen);
    expect(statements).toHaveLength(2);
    for (const sql of statements) {
      const plan = (await em.getConnection().execute<Array<{ detail: string }>>(`explain query plan ${sql}`, sql.split('?').slice(1).map(() => 0))).map((step) => step.detail);
      // Each table is searched through one of the usage indexes, holding every column the statement reads.
      const reads = plan.filter((detail) => /^(SCAN|SEARCH) (job|s|ours|usage_week|usage_wait)\b/.test(detail)).map((detail) => detail.replace(/ \(.*$/, ''));
      expect(reads.length, plan.join('; ')).toBeGreaterThanOrEqual(4);
      expect(reads.some((read) => /^SEARCH usage_(week|wait) USING PRIMARY KEY$/.test(read)), plan.join('; ')).toBe(true);
      for (const read of reads) {
        expect(read, plan.join('; ')).toMatch(/^SEARCH (job USING COVERING INDEX job_usage_(started|unstarted|running)_index|s USING COVERING INDEX sacct_job_usage_(started|unstarted|running)_index|ours USING COVERING INDEX job_cluster_slurm_job_id_index|usage_(week|wait) USING PRIMARY KEY)$/);
      }
    }
  });
});

describe('the daily sacct read', () => {
  const SACCT = [
    '7035|COMPLETED|gpu|billing=1,cpu=1,gres/gpu:a100=1,gres/gpu=1,mem=200M,node=1|billing=1,cpu=1,gres/gpu:a100=1,gres/gpu=1,mem=200M,node=1|2026-12-05T10:42:00|2026-12-05T10:42:01|2026-12-05T10:42:22|0:0',
    '7044|CANCELLED|gpu|billing=1,cpu=1|billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=100M,node=1|2026-12-05T10:47:32|None|2026-12-05T10:47:37|0:0',
  ].join('\n');

  function fakeCluster(answer: () => { stdout: string; exitCode: number }, reachable = true) {
    const asked: string[][] = [];
    const transport: Transport = {
      exec: async (argv) => {
        asked.push([...argv]);
        return { ...answer(), stderr: '', durationMs: 1 };
      },
      close: async () => undefined,
    };
    const clusters = { names: () => ['hpc'], usersWithLogin: async () => [1], transport: async () => transport, status: async () => ({ reachable, needsReauth: null }) } as unknown as ClusterService;
    return { clusters, asked };
  }

  it('stores the jobs that are not ours, then is not due again for a day; the next read starts where this one did', async () => {
    const em = orm.em.fork();
    await ourJob(em, { gpus: 1, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-12-05T10:42:00Z', slurmJobId: '7035' });
    const { clusters, asked } = fakeCluster(() => ({ stdout: SACCT, exitCode: 0 }));
    let now = at('2026-12-05T12:00:00');
    const usage = createUsageService({ orm, clusters, now: () => now });
    await usage.readDue();
    expect(asked).toHaveLength(1);
    // Values as arguments of a fixed script: the first read goes 90 days back.
    expect(asked[0]!.slice(3)).toEqual(['sh', '2026-09-06T12:00:00', 'JobID,State,Partition,AllocTRES,ReqTRES,Submit,Start,End,ExitCode']);
    const stored = await orm.em.fork().find(SacctJob, {});
    expect(stored.map((job) => [job.slurmJobId, job.state, job.gpuCount, job.gpuType, job.startedAt])).toEqual([['7044', 'CANCELLED', 2, 'a100', null]]);
    now = at('2026-12-06T06:00:00');
    await usage.readDue();
    expect(asked).toHaveLength(1);
    now = at('2026-12-06T12:00:00');
    await usage.readDue();
    expect(asked).toHaveLength(2);
    expect(asked[1]![4]).toBe('2026-12-05T11:45:00');
  });

  it('stores a read of thousands of jobs in batches: each job once, a job read again updated, ours left out', async () => {
    const em = orm.em.fork();
    await ourJob(em, { gpus: 1, gpuType: 'a100', state: 'COMPLETED', submitted: '2026-12-05T10:42:00Z', slurmJobId: '8600' });
    const lines = (state: string) => Array.from({ length: 1201 }, (_, index) => `${8000 + index}|${state}|gpu|gres/gpu:h100=2,gres/gpu=2|gres/gpu=2|2026-12-05T09:00:00|2026-12-05T09:30:00|2026-12-05T10:00:00|0:0`).join('\n');
    let stdout = lines('COMPLETED');
    const { clusters } = fakeCluster(() => ({ stdout, exitCode: 0 }));
    const usage = createUsageService({ orm, clusters, now: () => at('2026-12-05T12:00:00') });
    expect(await usage.readAccounting('hpc', 1)).toBe(1200);
    stdout = lines('FAILED');
    expect(await usage.readAccounting('hpc', 1)).toBe(1200);
    const stored = await orm.em.fork().find(SacctJob, {}, { orderBy: { slurmJobId: 'asc' } });
    expect(stored).toHaveLength(1200);
    expect(stored.some((job) => job.slurmJobId === '8600')).toBe(false);
    expect(new Set(stored.map((job) => job.state))).toEqual(new Set(['FAILED']));
    expect(stored[0]).toMatchObject({ cluster: 'hpc', slurmJobId: '8000', gpuCount: 2, gpuType: 'h100', slurmPartition: 'gpu', exitCode: 0, startedAt: at('2026-12-05T09:30:00'), endedAt: at('2026-12-05T10:00:00') });
    // 2 GPUs × 30 min each, counted in the usage figures (through the rollup's triggers) as the jobs launched elsewhere.
    const byProject = await usage.usage(orm.em.fork(), { from: at('2026-11-30T00:00:00Z'), to: at('2026-12-07T00:00:00Z'), groupBy: 'PROJECT' }, null);
    expect(byProject.groups.find((group) => group.key === null)).toMatchObject({ gpuHours: 1200, ended: 1200, completed: 0 });
  });

  it('records a failed read for its cluster and keeps where the next one starts; an unreachable cluster is not asked', async () => {
    const failing = fakeCluster(() => ({ stdout: 'sacct: error: Problem talking to the database: Connection refused', exitCode: 1 }));
    const errors: string[] = [];
    const usage = createUsageService({ orm, clusters: failing.clusters, onReadError: (cluster, error) => errors.push(`${cluster}: ${error.message}`) });
    await usage.readDue();
    expect(errors).toEqual(['hpc: sacct failed (exit 1): sacct: error: Problem talking to the database: Connection refused']);
    const read = await orm.em.fork().findOneOrFail(SacctRead, { cluster: 'hpc', userId: 1 });
    expect(read).toMatchObject({ since: null, readAt: null, error: 'sacct failed (exit 1): sacct: error: Problem talking to the database: Connection refused' });
    const unreachable = fakeCluster(() => ({ stdout: SACCT, exitCode: 0 }), false);
    await createUsageService({ orm, clusters: unreachable.clusters }).readDue();
    expect(unreachable.asked).toHaveLength(0);
  });
});

describe("each login's own accounting", () => {
  it("reads each user's login over its own connection, files its jobs as that user's, and keeps each read's place apart", async () => {
    const orm = await initOrm(':memory:');
    try {
      const alice = await createUserService({ orm }).add('alice');
      const asked: Array<{ userId: number; since: string }> = [];
      const clusters = {
        names: () => ['hpc'],
        usersWithLogin: async () => [1, alice.id],
        status: async () => ({ reachable: true, needsReauth: null }),
        transport: async (_cluster: string, userId: number): Promise<Transport> => ({
          exec: async (argv) => {
            asked.push({ userId, since: argv[4]! });
            // Each account's own job, as sacct -u "$(id -un)" answers it.
            return { stdout: `${900 + userId}|COMPLETED|gpu|gres/gpu:a100=1,gres/gpu=1|gres/gpu=1|2026-12-05T09:00:00|2026-12-05T09:30:00|2026-12-05T10:00:00|0:0`, stderr: '', exitCode: 0, durationMs: 1 };
          },
          close: async () => undefined,
        }),
      } as unknown as ClusterService;
      const usage = createUsageService({ orm, clusters, now: () => at('2026-12-05T12:00:00') });
      await usage.readDue();
      expect(asked.map((read) => read.userId).sort()).toEqual([1, alice.id]);
      const stored = await orm.em.fork().find(SacctJob, {}, { orderBy: { slurmJobId: 'asc' } });
      expect(stored.map((job) => [job.slurmJobId, job.userId])).toEqual([['901', 1], [String(900 + alice.id), alice.id]]);
      expect((await orm.em.fork().find(SacctRead, {}, { orderBy: { userId: 'asc' } })).map((read) => [read.userId, read.jobs])).toEqual([[1, 1], [alice.id, 1]]);
      // Each user's usage counts the jobs their own login found; an admin's counts both.
      const range = { from: at('2026-11-30T00:00:00Z'), to: at('2026-12-07T00:00:00Z'), groupBy: 'PROJECT' as const };
      const elsewhere = async (owner: number | null) => (await usage.usage(orm.em.fork(), range, owner)).groups.find((group) => group.key === null)?.ended;
      expect([await elsewhere(alice.id), await elsewhere(1), await elsewhere(null)]).toEqual([1, 1, 2]);
      expect((await usage.usage(orm.em.fork(), range, alice.id)).reads.map((read) => read.cluster)).toEqual(['hpc']);
    } finally {
      await orm.close();
    }
  });
});

describe('waitStats', () => {
  it('takes nearest-rank percentiles of a histogram', () => {
    expect(waitStats(new Map([[10, 1], [20, 1]]))).toEqual({ jobs: 2, medianSeconds: 10, p90Seconds: 20 });
    expect(waitStats(new Map([[5, 9], [600, 1]]))).toEqual({ jobs: 10, medianSeconds: 5, p90Seconds: 5 });
    expect(waitStats(new Map())).toBeNull();
  });
});
