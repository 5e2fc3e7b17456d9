// Usage analytics: GPU-hours, outcomes and queue waits of our jobs and of the user's jobs launched elsewhere, which
// one sacct command per cluster and login reads once a day (each user's login reads its own account's jobs) (never on a poll tick: its own croner job, bounded by a timeout,
// skipped while the cluster cannot be reached; one cluster's failure is that cluster's alone).
import type { EntityManager } from '@mikro-orm/knex';
import { Cron } from 'croner';
import { loginKey, type ClusterService } from '../clusters/service.js';
import { ClusterCheck, Project, SacctRead } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { dialectOf, type SqlDialect } from '../db/sql-dialect.js';
import { ValidationError } from '../errors.js';
import { slurmTime } from '../jobs/transitions.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { readAccountingSince, type AccountingRecord } from '../slurm/usage.js';
import type { JobState } from '../slurm/state.js';
import { OUTCOME_STATES, mondayOf, runs, waits, weekStart, type UsageGroupBy } from './queries.js';

export { USAGE_GROUPS, type UsageGroupBy } from './queries.js';

const DAY_MS = 86_400_000;
/** The longest range one usage query covers: a year of weeks. */
export const USAGE_MAX_DAYS = 366;
/** The wait table's two windows, ending at the range's end. */
export const WAIT_WINDOWS_DAYS = [7, 30] as const;
/** How far back a cluster's first sacct read goes. */
export const FIRST_READ_DAYS = 90;
/** A read is due a day after the last one that succeeded (a little less, so an hourly check never slips a day). */
const READ_EVERY_MS = DAY_MS - 30 * 60_000;
/** The next read starts this long before the last one did: a job SLURM recorded a moment late is still seen. */
const READ_OVERLAP_MS = 15 * 60_000;

export interface UsageInput {
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
}

export interface GpuHoursPoint {
  week: Date;
  key: string | null;
  gpuHours: number;
}

export interface OutcomeCount {
  week: Date;
  key: string | null;
  state: JobState;
  jobs: number;
}

export interface UsageGroup {
  key: string | null;
  /** The group's name for people: a project's name for its id; null keys are named by the screen. */
  label: string | null;
  gpuHours: number;
  ended: number;
  completed: number;
  /** completed ÷ ended; null when none ended. */
  successRate: number | null;
}

export interface WaitStats {
  jobs: number;
  medianSeconds: number;
  p90Seconds: number;
}

/** Queue waits of jobs that started in a window; partition null: all partitions; gpuType null: all GPU types. */
export interface QueueWait {
  cluster: string;
  partition: string | null;
  /** A type, 'any' (GPUs of no named type), 'none' (no GPUs), or null: every job of the cluster (and partition). */
  gpuType: string | null;
  /** Null when no job started in the window. */
  last7Days: WaitStats | null;
  last30Days: WaitStats | null;
}

export interface SacctReadStatus {
  cluster: string;
  readAt: Date | null;
  attemptedAt: Date;
  jobs: number;
  error: string | null;
}

export interface Usage extends UsageInput {
  weeks: Date[];
  gpuHours: GpuHoursPoint[];
  outcomes: OutcomeCount[];
  groups: UsageGroup[];
  waits: QueueWait[];
  reads: SacctReadStatus[];
}

export interface UsageServiceOptions {
  orm: Orm;
  clusters: ClusterService;
  now?: () => Date;
  /** Told when a cluster's read fails (the read is tried again within the hour); by default a warning in the log. */
  onReadError?: (cluster: string, error: Error) => void;
}

export type UsageService = ReturnType<typeof createUsageService>;

export function createUsageService(options: UsageServiceOptions) {
  const { orm, clusters, now = () => new Date(), onReadError = (cluster, error) => componentLogger('usage').warn({ cluster, ...errorFields(error) }, 'the daily sacct read failed; tried again within the hour') } = options;
  let cron: Cron | null = null;
  let firstCheck: NodeJS.Timeout | null = null;
  /** Per cluster, the sacct read under way: a second caller waits for it rather than reading twice. */
  const reading = new Map<string, Promise<number>>();
  // Every answer is computed when asked, so it is never older than the jobs: the rollups keep it to a few thousand rows
  // read (bench/api: p99 under 50 ms at 100,000 jobs), and nothing has to be told of a job's change.

  function checkRange({ from, to }: Pick<UsageInput, 'from' | 'to'>): void {
    if (Number.isNaN(from.getTime())) throw new ValidationError('from', 'not a time');
    if (Number.isNaN(to.getTime())) throw new ValidationError('to', 'not a time');
    if (from.getTime() >= to.getTime()) throw new ValidationError('to', `${to.toISOString()} is not after from (${from.toISOString()})`);
    const days = (to.getTime() - from.getTime()) / DAY_MS;
    if (days > USAGE_MAX_DAYS) throw new ValidationError('from', `the range is ${Math.ceil(days)} days, more than the ${USAGE_MAX_DAYS} days one query covers`);
  }

  /** The wait table for the windows ending at `to`; our jobs without a partition are in the cluster's default one. */
  async function queueWaits(em: EntityManager, to: Date): Promise<QueueWait[]> {
    const [longest, recent] = [Math.max(...WAIT_WINDOWS_DAYS), Math.min(...WAIT_WINDOWS_DAYS)];
    const [rows, checks] = await Promise.all([
      waits(em, new Date(to.getTime() - longest * DAY_MS), to, new Date(to.getTime() - recent * DAY_MS)),
      em.find(ClusterCheck, {}, { fields: ['cluster', 'partitions'] }),
    ]);
    const defaults = new Map(checks.map((check) => [check.cluster, check.partitions.find((partition) => partition.isDefault)?.name ?? null]));
    // Per group, per window: wait seconds → jobs. Each row counts in its own group and in the two roll-ups.
    const groups = new Map<string, { wait: QueueWait; all: Map<number, number>; recent: Map<number, number> }>();
    const add = (cluster: string, partition: string | null, gpuType: string | null, row: (typeof rows)[number]) => {
      const id = JSON.stringify([cluster, partition, gpuType]);
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { wait: { cluster, partition, gpuType, last7Days: null, last30Days: null }, all: new Map(), recent: new Map() }));
      group.all.set(row.wait_s, (group.all.get(row.wait_s) ?? 0) + Number(row.jobs));
      if (Number(row.recent) > 0) group.recent.set(row.wait_s, (group.recent.get(row.wait_s) ?? 0) + Number(row.recent));
    };
    for (const row of rows) {
      const partition = row.partition ?? defaults.get(row.cluster) ?? 'default';
      const gpuType = row.gpu_type;
      add(row.cluster, partition, gpuType, row);
      add(row.cluster, null, gpuType, row);
      add(row.cluster, null, null, row);
    }
    return [...groups.values()]
      .map(({ wait, all, recent }) => ({ ...wait, last7Days: waitStats(recent), last30Days: waitStats(all) }))
      .sort((a, b) => a.cluster.localeCompare(b.cluster) || (a.partition ?? '').localeCompare(b.partition ?? '') || (a.gpuType ?? '').localeCompare(b.gpuType ?? ''));
  }

  /** `owner`: the user whose jobs are counted, null for everyone's (an admin). */
  async function usage(em: EntityManager, input: UsageInput, owner: number | null): Promise<Usage> {
    checkRange(input);
    return computeUsage(em, input, owner);
  }

  async function computeUsage(em: EntityManager, { from, to, groupBy }: UsageInput, owner: number | null): Promise<Usage> {
    const at = now();
    const [runRows, waitTable, reads] = await Promise.all([runs(em, groupBy, from, to, at, owner), queueWaits(em, to), em.find(SacctRead, owner === null ? {} : { userId: owner }, { orderBy: { cluster: 'asc', userId: 'asc' } })]);
    const byWeek = (a: { week: Date; key: string | null }, b: { week: Date; key: string | null }) => a.week.getTime() - b.week.getTime() || (a.key ?? '').localeCompare(b.key ?? '');
    const hours = new Map<string, GpuHoursPoint>();
    for (const row of runRows) {
      if (Number(row.gpu_ms) <= 0) continue;
      const id = `${row.week}\u0000${row.key}`;
      const point = hours.get(id) ?? { week: weekStart(Number(row.week)), key: row.key, gpuHours: 0 };
      point.gpuHours += Number(row.gpu_ms) / 3_600_000;
      hours.set(id, point);
    }
    const gpuHours = [...hours.values()].sort(byWeek);
    const outcomeCounts = runRows
      .filter((row) => OUTCOME_STATES.includes(row.state))
      .map((row) => ({ week: weekStart(Number(row.week)), key: row.key, state: row.state, jobs: Number(row.jobs) }))
      .sort((a, b) => byWeek(a, b) || OUTCOME_STATES.indexOf(a.state) - OUTCOME_STATES.indexOf(b.state));
    const groups = new Map<string | null, UsageGroup>();
    const group = (key: string | null) => {
      let entry = groups.get(key);
      if (!entry) groups.set(key, (entry = { key, label: key, gpuHours: 0, ended: 0, completed: 0, successRate: null }));
      return entry;
    };
    for (const point of gpuHours) group(point.key).gpuHours += point.gpuHours;
    for (const count of outcomeCounts) {
      const entry = group(count.key);
      entry.ended += count.jobs;
      if (count.state === 'COMPLETED') entry.completed += count.jobs;
    }
    if (groupBy === 'PROJECT') {
      const ids = [...groups.keys()].filter((key): key is string => key !== null).map(Number);
      const projects = ids.length ? await em.find(Project, { id: { $in: ids } }, { fields: ['id', 'name'] }) : [];
      for (const project of projects) group(String(project.id)).label = project.name;
    }
    const weeks: Date[] = [];
    for (let week = mondayOf(from); week.getTime() < to.getTime(); week = new Date(week.getTime() + 7 * DAY_MS)) weeks.push(week);
    return {
      from,
      to,
      groupBy,
      weeks,
      gpuHours,
      outcomes: outcomeCounts,
      groups: [...groups.values()]
        .map((entry) => ({ ...entry, successRate: entry.ended > 0 ? entry.completed / entry.ended : null }))
        .sort((a, b) => b.gpuHours - a.gpuHours || b.ended - a.ended),
      waits: waitTable,
      reads: reads.map((read) => ({ cluster: read.cluster, readAt: read.readAt ?? null, attemptedAt: read.attemptedAt, jobs: read.jobs, error: read.error ?? null })),
    };
  }

  /**
   * A login's sacct read on a cluster since its last one (or FIRST_READ_DAYS back); the number of jobs stored. Each
   * user's login reads its own account's jobs (sacct -u "$(id -un)"), filed as theirs.
   */
  async function readAccounting(cluster: string, userId: number): Promise<number> {
    const key = loginKey(cluster, userId);
    const running = reading.get(key);
    if (running) return running;
    const read = (async () => {
      const em = orm.em.fork();
      const attemptedAt = now();
      const last = await em.findOne(SacctRead, { cluster, userId });
      const since = last?.since ?? new Date(attemptedAt.getTime() - FIRST_READ_DAYS * DAY_MS);
      try {
        const records = await readAccountingSince(await clusters.transport(cluster, userId), slurmTimeText(since));
        const stored = await store(em, cluster, userId, records, attemptedAt);
        await em.upsert(SacctRead, { cluster, userId, since: new Date(attemptedAt.getTime() - READ_OVERLAP_MS), readAt: attemptedAt, attemptedAt, jobs: stored, error: null });
        return stored;
      } catch (error) {
        await em.upsert(SacctRead, { cluster, userId, since: last?.since ?? null, readAt: last?.readAt ?? null, attemptedAt, jobs: last?.jobs ?? 0, error: (error as Error).message.slice(0, 2000) });
        throw error;
      }
    })().finally(() => reading.delete(key));
    reading.set(key, read);
    return read;
  }

  /**
   * Records of jobs that are not ours, stored over what an earlier read said of them: STORE_BATCH rows per statement,
   * written as SQL rather than entities (a first read of 90 days is thousands of jobs; as entities, with their change
   * sets, they grew a server's resident memory by ~60 MB that it never gave back).
   */
  async function store(em: EntityManager, cluster: string, ownerId: number, records: AccountingRecord[], readAt: Date): Promise<number> {
    const time = (text: string | null) => slurmTime(text)?.getTime() ?? null;
    let stored = 0;
    for (let index = 0; index < records.length; index += STORE_BATCH) {
      const batch = records.slice(index, index + STORE_BATCH);
      const values = batch.flatMap((record) => [cluster, record.slurmJobId, ownerId, record.state, record.rawState, record.partition, record.gpus, record.gpuType, record.exitCode, time(record.submittedAt), time(record.startedAt), time(record.endedAt), readAt.getTime()]);
      const result = await em.getConnection().execute<{ affectedRows: number }>(storeSql(dialectOf(em), batch.length), values, 'run');
      stored += result.affectedRows;
    }
    return stored;
  }

  /** Reads every login whose read is due and that answers now; the others wait for the next check. */
  async function readDue(): Promise<void> {
    const em = orm.em.fork();
    const reads = new Map((await em.find(SacctRead, {})).map((read) => [loginKey(read.cluster, read.userId), read]));
    const logins = (await Promise.all(clusters.names().map(async (cluster) => (await clusters.usersWithLogin(cluster)).map((userId) => ({ cluster, userId }))))).flat();
    await Promise.all(
      logins.map(async ({ cluster, userId }) => {
        const readAt = reads.get(loginKey(cluster, userId))?.readAt;
        if (readAt && now().getTime() - readAt.getTime() < READ_EVERY_MS) return;
        try {
          const status = await clusters.status(em.fork(), cluster, userId);
          if (status.reachable !== true || status.needsReauth) return;
          await readAccounting(cluster, userId);
        } catch (error) {
          onReadError?.(cluster, error as Error);
        }
      }),
    );
  }

  return {
    usage,
    queueWaits: (em: EntityManager) => queueWaits(em, now()),
    readAccounting,
    readDue,
    /** An hourly check that reads each cluster once a day, and a first check soon after start (a never-read cluster). */
    start(firstCheckMs = 30_000): void {
      cron ??= new Cron('0 17 * * * *', { protect: true }, readDue);
      firstCheck ??= setTimeout(() => void readDue(), firstCheckMs);
      firstCheck.unref();
    },
    async stop(): Promise<void> {
      cron?.stop();
      cron = null;
      if (firstCheck) clearTimeout(firstCheck);
      firstCheck = null;
      await Promise.allSettled(reading.values());
    },
  };
}

/** Nearest-rank percentiles of a histogram (wait seconds → jobs); null when it is empty. */
export function waitStats(histogram: ReadonlyMap<number, number>): WaitStats | null {
  const waits = [...histogram.entries()].sort(([a], [b]) => a - b);
  const jobs = waits.reduce((sum, [, count]) => sum + count, 0);
  if (jobs === 0) return null;
  const rank = (fraction: number) => {
    const wanted = Math.max(1, Math.ceil(fraction * jobs));
    let seen = 0;
    for (const [wait, count] of waits) {
      seen += count;
      if (seen >= wanted) return wait;
    }
    return waits.at(-1)![0];
  };
  return { jobs, medianSeconds: rank(0.5), p90Seconds: rank(0.9) };
}

/**
 * Rows per statement of the sacct read's store (12 values each). Measured on the lab's 4,060 jobs per cluster, a
 * compiled server's RSS after the first read: 500 rows a statement kept 28 MB more, 100 rows 8 MB (5 MB of them the
 * command's output and its parse); what is left is the native allocator's, which glibc keeps per thread.
 */
const STORE_BATCH = 100;
/** sacct_job's columns as store() binds them, each with the type of its placeholder. */
const SACCT_COLUMNS = [
  ['cluster', 'text'],
  ['slurm_job_id', 'text'],
  ['user_id', 'integer'],
  ['state', 'text'],
  ['slurm_state', 'text'],
  ['slurm_partition', 'text'],
  ['gpu_count', 'integer'],
  ['gpu_type', 'text'],
  ['exit_code', 'integer'],
  ['submitted_at', 'time'],
  ['started_at', 'time'],
  ['ended_at', 'time'],
  ['read_at', 'time'],
] as const;

/**
 * `rows` accounting rows upserted by cluster and SLURM id, but those of our own jobs (counted as ours). Both engines
 * name a VALUES list's columns column1, column2, …; the `where` also keeps `on conflict` from reading as the join's.
 */
function storeSql(sql: SqlDialect, rows: number): string {
  const row = `(${SACCT_COLUMNS.map(([, type]) => sql[type]).join(', ')})`;
  return (
    `insert into "sacct_job" (${SACCT_COLUMNS.map(([column]) => `"${column}"`).join(', ')}) ` +
    `select * from (values ${Array.from({ length: rows }, () => row).join(', ')}) as "v" ` +
    'where not exists (select 1 from "job" where "job"."cluster" = "v"."column1" and "job"."slurm_job_id" = "v"."column2") ' +
    `on conflict ("cluster", "slurm_job_id") do update set ${SACCT_COLUMNS.slice(2).map(([column]) => `"${column}" = excluded."${column}"`).join(', ')}`
  );
}

/** A time as sacct -S reads it: the cluster's local time, which the server shares (see slurmTime). */
function slurmTimeText(at: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}
