// Pushes from training curves: a running job's metric that became NaN or infinite, and a running job whose GPUs all
// sat idle. Both are read from the points the metrics domain stored, when it announces them (metrics:updated, at most
// once a second per job), never from the cluster. Each is claimed once in the database, so neither a repeated
// announcement nor a restart tells it twice:
// - NaN: once per job (`metric-nan:<job>`): a diverged run turns its metrics NaN over a few reads, and the first push
//   names those that are NaN then; each metric is claimed too (`metric-nan:<job>:<name>`), so none is news again.
// - idle GPUs: once per job (`gpu-idle:<job>`).
// A sweep's tasks usually share their fate (a learning rate too high for all of them, a data loader starving every
// GPU): a thousand tasks must not be a thousand pushes. So a sweep is told once per metric (`metric-nan:sweep:<sweep>:
// <name>`) and once for idle GPUs (`gpu-idle:sweep:<sweep>`), about its first task in trouble and how many of its
// tasks are in the same trouble at that moment; the sweep's own screen shows the rest.
import type { EntityManager } from '@mikro-orm/knex';
import { Job, Sweep } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { dialectOf, type SqlDialect } from '../db/sql-dialect.js';
import type { JobState } from '../slurm/state.js';
import type { Delivery, Recipient } from './delivery.js';
import { gpuIdleMessage, metricNanMessage, sweepTaskValues, type NonFinitePoint, type TaskContext } from './messages.js';
import type { PushMessage } from './web-push.js';

/** Utilisation (percent) under which a GPU counts as idle. */
export const GPU_IDLE_PERCENT = 10;

/** The GPU sampler's utilisation series (server/metrics/gpu-samples.ts), `<node>/` first on a job of several nodes. */
const GPU_UTILIZATION = /^(?:[^/]+\/)?gpu\d+\.utilization$/;

/** The one NaN push of a job (or of a sweep). */
const divergedKey = (job: Pick<Job, 'id' | 'sweepId'>) => (job.sweepId == null ? `metric-nan:${job.id}` : `metric-nan:sweep:${job.sweepId}`);
export const metricNanKey = (job: Pick<Job, 'id' | 'sweepId'>, name: string) => (job.sweepId == null ? `metric-nan:${job.id}:${name}` : `metric-nan:sweep:${job.sweepId}:${name}`);
export const gpuIdleKey = (job: Pick<Job, 'id' | 'sweepId'>) => (job.sweepId == null ? `gpu-idle:${job.id}` : `gpu-idle:sweep:${job.sweepId}`);

// Stored as the metrics service stores them (sqlNumber): NaN as null, an infinity as the dialect's.
const nonFinite = (sql: SqlDialect) => `(value is null or abs(value) >= ${sql.infinity(1)})`;
const fromStored = (value: number | null) => (value === null ? Number.NaN : value);
/** Series per statement: far under SQLite's limit of bound variables. */
const NAMES_PER_QUERY = 200;
/** Keys known claimed, so a job's next announcement asks nothing more; only a cache, the database's claims decide. */
const TOLD_CACHE = 10_000;

const RUNNING: JobState = 'RUNNING';

type JobFields = Pick<Job, 'id' | 'userId' | 'name' | 'cluster' | 'state' | 'projectId' | 'sweepId' | 'arrayIndex'>;
const JOB_FIELDS = ['id', 'userId', 'name', 'cluster', 'state', 'projectId', 'sweepId', 'arrayIndex'] as const;

/** Each series' point at its highest step, one index lookup per series. */
async function latestPoints(em: EntityManager, jobId: number, names: readonly string[]): Promise<Map<string, { step: number; value: number }>> {
  const found = new Map<string, { step: number; value: number }>();
  for (let start = 0; start < names.length; start += NAMES_PER_QUERY) {
    const chunk = names.slice(start, start + NAMES_PER_QUERY);
    const one = 'select * from (select name, step, value from metric_point where job_id = ? and name = ? order by step desc, id desc limit 1) as latest';
    const rows = (await em.getConnection().execute(chunk.map(() => one).join(' union all '), chunk.flatMap((name) => [jobId, name]))) as Array<{ name: string; step: number; value: number | null }>;
    for (const row of rows) found.set(row.name, { step: row.step, value: fromStored(row.value) });
  }
  return found;
}

/** Where a series' trailing run of NaN or infinite values begins: the step at which it "became NaN". */
async function startOfNonFiniteRun(em: EntityManager, jobId: number, name: string): Promise<{ step: number; value: number } | null> {
  const sql = dialectOf(em);
  const [row] = (await em.getConnection().execute(
    `select step, value from metric_point where job_id = ? and name = ? and ${nonFinite(sql)}
       and step > coalesce((select max(step) from metric_point where job_id = ? and name = ? and not ${nonFinite(sql)}), ${sql.infinity(-1)})
     order by step, id limit 1`,
    [jobId, name, jobId, name],
  )) as Array<{ step: number; value: number | null }>;
  return row ? { step: row.step, value: fromStored(row.value) } : null;
}

/** The sweep's tasks (by index: a relaunch's task is the same run) whose series `name` ends NaN or infinite now. */
async function nonFiniteTasks(em: EntityManager, sweepId: number, name: string): Promise<number> {
  const [row] = (await em.getConnection().execute(
    `select count(distinct array_index) as count from job
     where sweep_id = ? and (select case when ${nonFinite(dialectOf(em))} then 1 else 0 end from metric_point where job_id = job.id and name = ? order by step desc, id desc limit 1) = 1`,
    [sweepId, name],
  )) as Array<{ count: number | string }>;
  // A count is a string on PostgreSQL (bigint).
  return Number(row?.count ?? 0);
}

/** A job's series names, one index seek per series (a loose index scan), never a walk over its points. */
async function seriesNames(em: EntityManager, jobId: number): Promise<string[]> {
  const rows = (await em.getConnection().execute(
    `with recursive series(name) as (
       select min(name) from metric_point where job_id = ?
       union all
       select (select min(name) from metric_point where job_id = ? and name > series.name) from series where series.name is not null
     ) select name from series where name is not null`,
    [jobId, jobId],
  )) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

/**
 * The number of the job's GPUs when every one was under GPU_IDLE_PERCENT for the whole window, else null. Measured on
 * the samples' own clock (step: epoch seconds on the node), so a late read of a backlog judges the same. Per GPU: its
 * last sample at or before (latest − window) and every sample after it are idle, so at least two samples span the
 * window; and its latest sample is within the window of the job's latest, so a GPU whose samples stopped is not
 * taken for idle.
 */
async function idleGpus(em: EntityManager, jobId: number, windowMs: number): Promise<number | null> {
  const gpus = (await seriesNames(em, jobId)).filter((name) => GPU_UTILIZATION.test(name));
  if (gpus.length === 0) return null;
  const latest = await latestPoints(em, jobId, gpus);
  const window = windowMs / 1000;
  const newest = Math.max(...[...latest.values()].map((point) => point.step));
  for (const name of gpus) {
    const last = latest.get(name)!.step;
    if (last < newest - window) return null;
    const samples = (await em.getConnection().execute(
      `select value from metric_point where job_id = ? and name = ?
         and step >= coalesce((select max(step) from metric_point where job_id = ? and name = ? and step <= ?), ${dialectOf(em).infinity(1)})`,
      [jobId, name, jobId, name, last - window],
    )) as Array<{ value: number | null }>;
    if (samples.length < 2 || !samples.every((sample) => sample.value !== null && sample.value < GPU_IDLE_PERCENT)) return null;
  }
  return gpus.length;
}

export interface MetricAlertsOptions {
  orm: Orm;
  delivery: Delivery;
  /** How long every GPU must stay idle (notifications.gpuIdleMinutes), asked each time: a config reload changes it. */
  gpuIdleWindowMs: () => number;
}

export function createMetricAlerts({ orm, delivery, gpuIdleWindowMs: windowMs }: MetricAlertsOptions) {
  const told = new Set<string>();

  async function claim(key: string): Promise<boolean> {
    if (told.size >= TOLD_CACHE) told.clear();
    told.add(key);
    return delivery.claim(key);
  }

  async function send(em: EntityManager, job: JobFields, wants: (recipient: Recipient) => boolean, message: PushMessage): Promise<void> {
    const recipients = (await delivery.listeningTo(em, job)).filter(wants);
    await delivery.broadcast(recipients.map((recipient) => ({ recipient, message })));
  }

  /** The task's sweep values and how many of its tasks `count` finds in the same trouble. */
  async function taskContext(em: EntityManager, job: JobFields, count: (sweep: Sweep) => Promise<{ count: number; of: number; tasks: string }>): Promise<TaskContext | null> {
    const sweep = await em.findOne(Sweep, { id: job.sweepId! });
    if (!sweep) return null;
    await em.populate(sweep, ['runs']);
    return { sweep, values: sweepTaskValues(sweep, job.arrayIndex!), ...(await count(sweep)) };
  }

  async function tellNonFinite(em: EntityManager, job: JobFields, diverged: readonly string[]): Promise<void> {
    const points: NonFinitePoint[] = [];
    for (const name of diverged.filter((name) => !told.has(metricNanKey(job, name))).sort()) {
      // Claimed even when nobody listens, so a device subscribing later is not told old news.
      if (!(await claim(metricNanKey(job, name)))) continue;
      const start = await startOfNonFiniteRun(em, job.id, name);
      if (start) points.push({ name, ...start });
    }
    if (points.length === 0 || !(await claim(divergedKey(job)))) return;
    const task =
      job.sweepId == null ? undefined : await taskContext(em, job, async (sweep) => ({ count: await nonFiniteTasks(em, sweep.id, points[0]!.name), of: sweep.size, tasks: 'tasks' }));
    if (task === null) return;
    await send(em, job, (recipient) => recipient.metricNanPushes, metricNanMessage(job, points, task));
  }

  async function checkGpuIdle(em: EntityManager, job: JobFields): Promise<void> {
    if (told.has(gpuIdleKey(job))) return;
    const gpuIdleWindowMs = windowMs();
    const gpus = await idleGpus(em, job.id, gpuIdleWindowMs);
    if (gpus === null || !(await claim(gpuIdleKey(job)))) return;
    const task =
      job.sweepId == null
        ? undefined
        : await taskContext(em, job, async (sweep) => {
            // Once per sweep ever: each running task's few index lookups, then never again.
            const running = await em.find(Job, { sweepId: sweep.id, state: RUNNING }, { fields: ['id'] });
            let idle = 0;
            for (const task of running) if (task.id === job.id || (await idleGpus(em, task.id, gpuIdleWindowMs)) !== null) idle++;
            return { count: idle, of: running.length, tasks: 'running tasks' };
          });
    if (task === null) return;
    await send(em, job, (recipient) => recipient.gpuIdlePushes, gpuIdleMessage(job, gpus, GPU_IDLE_PERCENT, gpuIdleWindowMs, task));
  }

  /**
   * New points of a job were stored: looks at those series' latest values, and at its GPUs when new samples came.
   * The job is read only then: for most announcements (every second of every running job) one index lookup per
   * series is all.
   */
  return async function onMetricsUpdated({ jobId, names }: { jobId: number; names: readonly string[] }): Promise<void> {
    const em = orm.em.fork();
    const diverged = [...(await latestPoints(em, jobId, names))].filter(([, point]) => !Number.isFinite(point.value)).map(([name]) => name);
    const sampled = names.some((name) => GPU_UTILIZATION.test(name));
    if (diverged.length === 0 && !sampled) return;
    const job = await em.findOne(Job, { id: jobId }, { fields: JOB_FIELDS });
    // Points read one last time after the end are history: the end's own push is the news then.
    if (!job || job.state !== RUNNING) return;
    if (diverged.length > 0) await tellNonFinite(em, job, diverged);
    if (sampled) await checkGpuIdle(em, job);
  };
}
