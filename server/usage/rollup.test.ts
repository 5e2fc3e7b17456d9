// The usage rollups (usage_week, usage_wait: Migration20261205130000's triggers) against the jobs themselves: over
// random histories written through the ORM and the sacct read's upsert — launches, starts, ends, requeues (a start
// reset), GPU changes, deletes, jobs launched elsewhere stored, stored again and removed, a job of ours taking or
// losing a SLURM id that sacct also reported — runs() and waits() give what a direct count of the rows gives, for any
// range (whole weeks and days from the rollups, their edges from the jobs).
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createJobRow, insertProject, jobInput } from '../../test/factories.js';
import { Job, SacctJob } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { dialectOf, type SqlDialect } from '../db/sql-dialect.js';
import type { JobState } from '../slurm/state.js';
import { USAGE_GROUPS, runs, waits, type UsageGroupBy } from './queries.js';

const BASE = Date.parse('2026-11-02T00:00:00Z'); // a Monday
const DAY = 86_400_000;
const WEEK = 7 * DAY;
const STATES: JobState[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY'];
const CLUSTERS = ['hpc', 'lab'];

let orm: Orm;
beforeAll(async () => {
  orm = await initOrm(':memory:');
  const em = orm.em.fork();
  await insertProject(em, 'vision');
  await insertProject(em, 'nlp');
});
afterAll(async () => {
  await orm.close();
});

// Times on a 4-week span, often on a day's or a week's start (the rollups' edges).
const time = fc.oneof(fc.integer({ min: 0, max: 28 * 24 }).map((hour) => BASE + hour * 3_600_000), fc.integer({ min: 0, max: 28 * DAY }).map((ms) => BASE + ms));
const slurmId = fc.integer({ min: 1, max: 6 }).map(String);
const op = fc.oneof(
  fc.record({ kind: fc.constant('launch' as const), user: fc.constantFrom(1, 2), cluster: fc.constantFrom(...CLUSTERS), project: fc.constantFrom(1, 2), gpus: fc.integer({ min: 0, max: 4 }), gpuType: fc.constantFrom(null, 'a100'), partition: fc.constantFrom(null, 'big'), slurmJobId: fc.option(slurmId), submitted: time }),
  fc.record({ kind: fc.constant('start' as const), pick: fc.nat(), wait: fc.integer({ min: 0, max: 3 * 3_600_000 }) }),
  fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), run: fc.integer({ min: 0, max: 2 * DAY }), state: fc.constantFrom(...STATES) }),
  fc.record({ kind: fc.constant('requeue' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('regpu' as const), pick: fc.nat(), gpus: fc.integer({ min: 0, max: 4 }), gpuType: fc.constantFrom(null, 'h100') }),
  fc.record({ kind: fc.constant('reid' as const), pick: fc.nat(), slurmJobId: fc.option(slurmId) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('sacct' as const), user: fc.constantFrom(1, 2), cluster: fc.constantFrom(...CLUSTERS), slurmJobId: slurmId, gpus: fc.integer({ min: 0, max: 8 }), submitted: time, wait: fc.option(fc.integer({ min: 0, max: 2 * DAY })), run: fc.option(fc.integer({ min: 0, max: DAY })), state: fc.constantFrom('RUNNING' as const, ...STATES) }),
  fc.record({ kind: fc.constant('unsacct' as const), pick: fc.nat() }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function apply(ops: Op[]): Promise<void> {
  for (const step of ops) {
    const em = orm.em.fork();
    const jobs = await em.find(Job, {}, { orderBy: { id: 'asc' } });
    const job = jobs.length && 'pick' in step ? jobs[step.pick % jobs.length]! : null;
    switch (step.kind) {
      case 'launch': {
        const row = createJobRow(em, { cluster: step.cluster, state: 'PENDING', projectId: step.project, slurmJobId: step.slurmJobId, userId: step.user });
        row.input = jobInput(step.project, { cluster: step.cluster, gpusPerNode: step.gpus, gpuType: step.gpuType, partition: step.partition });
        row.submittedAt = new Date(step.submitted);
        break;
      }
      case 'start':
        if (job?.submittedAt) Object.assign(job, { startedAt: new Date(job.submittedAt.getTime() + step.wait), endedAt: null, state: 'RUNNING' });
        break;
      case 'end':
        if (job) Object.assign(job, { endedAt: new Date((job.startedAt ?? job.submittedAt!).getTime() + step.run), state: step.state });
        break;
      case 'requeue':
        if (job) Object.assign(job, { startedAt: null, endedAt: null, state: 'PENDING' });
        break;
      case 'regpu':
        if (job) job.input = { ...job.input, gpusPerNode: step.gpus, gpuType: step.gpuType };
        break;
      case 'reid':
        if (job) job.slurmJobId = step.slurmJobId;
        break;
      case 'delete':
        if (job) em.remove(job);
        break;
      case 'sacct': {
        const startedAt = step.wait === null ? null : new Date(step.submitted + step.wait);
        const endedAt = startedAt && step.run !== null && step.state !== 'RUNNING' ? new Date(startedAt.getTime() + step.run) : null;
        const row = { cluster: step.cluster, slurmJobId: step.slurmJobId, userId: step.user, state: step.state, slurmState: step.state, slurmPartition: step.gpus % 2 ? 'big' : null, gpuCount: step.gpus, gpuType: step.gpus ? 'a100' : null, exitCode: 0, submittedAt: new Date(step.submitted), startedAt, endedAt: startedAt ? endedAt : new Date(step.submitted + DAY), readAt: new Date() };
        await em.upsertMany(SacctJob, [row]);
        break;
      }
      case 'unsacct': {
        const stored = await em.find(SacctJob, {}, { orderBy: { cluster: 'asc', slurmJobId: 'asc' } });
        if (stored.length) em.remove(stored[step.pick % stored.length]!);
        break;
      }
    }
    await em.flush();
  }
}

interface Row {
  cluster: string;
  project_id: number | null;
  user_id: number;
  slurm_job_id: string | null;
  state: JobState;
  gpu_count: number;
  gpu_type: string | null;
  slurm_partition: string | null;
  submitted_at: number | null;
  started_at: number | null;
  ended_at: number | null;
}
/** The columns counted, times as epoch milliseconds on either engine. */
const columns = (sql: SqlDialect) =>
  ['"cluster"', '"slurm_job_id"', '"user_id"', '"state"', '"gpu_count"', '"gpu_type"', '"slurm_partition"', ...['submitted_at', 'started_at', 'ended_at'].map((column) => `${sql.ms(`"${column}"`)} as "${column}"`)].join(', ');

/** Every counted row: ours, and those launched elsewhere that are not ours. */
async function counted(): Promise<Row[]> {
  const connection = orm.em.getConnection();
  const sql = dialectOf(orm.em);
  const ours = await connection.execute<Row[]>(`select ${columns(sql)}, "project_id" from "job"`);
  const keys = new Set(ours.map((row) => `${row.cluster}/${row.slurm_job_id}`));
  const elsewhere = await connection.execute<Row[]>(`select ${columns(sql)}, null as "project_id" from "sacct_job"`);
  return [...ours, ...elsewhere.filter((row) => !keys.has(`${row.cluster}/${row.slurm_job_id}`))];
}

const keyOf = (row: Row, groupBy: UsageGroupBy) => (groupBy === 'CLUSTER' ? row.cluster : groupBy === 'PROJECT' ? (row.project_id === null ? null : String(row.project_id)) : (row.gpu_type ?? 'none'));
const bucket = (seconds: number) => (seconds < 600 ? seconds : seconds < 7200 ? seconds - (seconds % 60) : seconds < 86400 ? seconds - (seconds % 600) : seconds - (seconds % 3600));
const sorted = <T>(rows: T[]) => rows.map((row) => JSON.stringify(row)).sort();

it('the rollups answer as the jobs themselves do, over random histories and ranges', async () => {
  await fc.assert(
    // owner: one user's figures (1 or 2), or everyone's (null: an admin's); the queue waits are everyone's.
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.constantFrom(...USAGE_GROUPS), time, time, time, fc.constantFrom(null, 1, 2), async (ops, groupBy, a, b, now, owner) => {
      await apply(ops);
      const [from, to] = a <= b ? [a, b + 1] : [b, a];
      const everyone = await counted();
      const rows = everyone.filter((row) => owner === null || row.user_id === owner);
      const em = orm.em.fork();

      const expectedRuns = new Map<string, { week: number; key: string | null; state: JobState; jobs: number; gpu_ms: number }>();
      for (const row of rows) {
        const anchor = row.started_at ?? row.ended_at;
        if (anchor === null || anchor < from || anchor >= to) continue;
        const week = Math.floor((anchor + 3 * DAY) / WEEK);
        const id = JSON.stringify([week, keyOf(row, groupBy), row.state]);
        const entry = expectedRuns.get(id) ?? { week, key: keyOf(row, groupBy), state: row.state, jobs: 0, gpu_ms: 0 };
        entry.jobs++;
        if (row.started_at !== null) entry.gpu_ms += row.gpu_count * ((row.ended_at ?? now) - row.started_at);
        expectedRuns.set(id, entry);
      }
      const gotRuns = (await runs(em, groupBy, new Date(from), new Date(to), new Date(now), owner)).map((row) => ({ week: row.week, key: row.key, state: row.state, jobs: Number(row.jobs), gpu_ms: Number(row.gpu_ms) }));
      expect(sorted(gotRuns)).toEqual(sorted([...expectedRuns.values()]));

      const recentFrom = Math.max(from, to - 7 * DAY + (now % DAY));
      const expectedWaits = new Map<string, { cluster: string; partition: string | null; gpu_type: string; wait_s: number; jobs: number; recent: number }>();
      for (const row of everyone) {
        if (row.started_at === null || row.submitted_at === null || row.started_at < from || row.started_at >= to) continue;
        const wait_s = bucket(row.started_at > row.submitted_at ? Math.floor((row.started_at - row.submitted_at) / 1000) : 0);
        const id = JSON.stringify([row.cluster, row.slurm_partition, row.gpu_type ?? 'none', wait_s]);
        const entry = expectedWaits.get(id) ?? { cluster: row.cluster, partition: row.slurm_partition, gpu_type: row.gpu_type ?? 'none', wait_s, jobs: 0, recent: 0 };
        entry.jobs++;
        if (row.started_at >= recentFrom) entry.recent++;
        expectedWaits.set(id, entry);
      }
      const gotWaits = (await waits(em, new Date(from), new Date(to), new Date(recentFrom))).map((row) => ({ ...row, jobs: Number(row.jobs), recent: Number(row.recent) }));
      expect(sorted(gotWaits)).toEqual(sorted([...expectedWaits.values()]));
    }),
    { numRuns: 150 },
  );
}, 120_000);
