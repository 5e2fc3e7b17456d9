// The usage aggregates as SQL over our jobs (`job`) and the user's jobs launched elsewhere (`sacct_job`, minus those
// that are also ours: same cluster and SLURM id). Whole weeks and days come from rollups that triggers keep
// (usage_week, usage_wait: Migration20261205130000), so a computed answer reads a few thousand rows however many jobs
// there are; the jobs themselves are read only for the running ones and the partial periods at a range's edges, each
// statement through one index per table that holds every column it reads (no aggregate touches a job's row). Times are
// bound as epoch milliseconds and compared as the dialect says (SQLite keeps them so, PostgreSQL keeps timestamps).
import type { EntityManager } from '@mikro-orm/knex';
import { dialectOf, type SqlDialect } from '../db/sql-dialect.js';
import { TERMINAL_STATES, type JobState } from '../slurm/state.js';

export const USAGE_GROUPS = ['CLUSTER', 'PROJECT', 'GPU_TYPE'] as const;
export type UsageGroupBy = (typeof USAGE_GROUPS)[number];

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-01 was a Thursday: shifted by three days, weeks counted from the epoch start on Mondays (ISO weeks, UTC). */
const MONDAY_SHIFT_MS = 3 * DAY_MS;

/** The week (Monday 00:00 UTC) a time falls in, as a number of weeks; weekStart() turns it back into a time. */
const weekOf = (sql: SqlDialect, column: string) => `cast((${sql.ms(column)} + ${MONDAY_SHIFT_MS}) / ${WEEK_MS} as integer)`;
export const weekStart = (week: number) => new Date(week * WEEK_MS - MONDAY_SHIFT_MS);
/** The Monday 00:00 UTC of the week `at` falls in. */
export const mondayOf = (at: Date) => weekStart(Math.floor((at.getTime() + MONDAY_SHIFT_MS) / WEEK_MS));

// The group key of each table's rows; fixed text, never a value a caller gave. A job launched elsewhere has no project.
const KEY: Record<UsageGroupBy, { job: string; sacct: string }> = {
  CLUSTER: { job: '"cluster"', sacct: '"cluster"' },
  PROJECT: { job: 'cast("project_id" as text)', sacct: 'null' },
  GPU_TYPE: { job: `coalesce("gpu_type", 'none')`, sacct: `coalesce("gpu_type", 'none')` },
};

/** The rollup's group key (Migration20261205130000: project 0 is a job launched elsewhere; gpu_type already says 'none'). */
const ROLLUP_KEY: Record<UsageGroupBy, string> = {
  CLUSTER: '"cluster"',
  PROJECT: 'cast(nullif("project_id", 0) as text)',
  GPU_TYPE: '"gpu_type"',
};

/** A job launched elsewhere that is also one of ours is counted once, as ours (the `job` table's index on cluster and SLURM id). */
const NOT_OURS = 'not exists (select 1 from "job" as "ours" where "ours"."cluster" = "s"."cluster" and "ours"."slurm_job_id" = "s"."slurm_job_id")';

/**
 * Both tables' rows: each table searched through one of its usage indexes (SQLite does not push a filter into a
 * union), jobs that are also ours left out of the accounting half. `halves` are the filters, each with its index.
 */
function bothTables(sql: SqlDialect, select: (table: 'job' | 'sacct') => string, halves: string[], index?: 'running'): string {
  const by = (table: string) => (index ? sql.indexedBy(`${table}_usage_${index}_index`) : '');
  return halves.flatMap((where) => [`${select('job')} from "job"${by('job')} where ${where}`, `${select('sacct')} from "sacct_job" as "s"${by('sacct_job')} where ${where} and ${NOT_OURS}`]).join(' union all ');
}

/**
 * The rows of one user (issue 21: a user reads their own figures), or of everyone (null: an admin). Inlined: an id
 * from the session, an integer, which keeps the statements' placeholders in their fixed order.
 */
function ofOwner(owner: number | null): string {
  if (owner === null) return '';
  if (!Number.isSafeInteger(owner)) throw new Error(`not a user id: ${owner}`);
  return ` and "user_id" = ${owner}`;
}

/** The outcomes counted: every final state but SUBMIT_FAILED (SLURM never had the job, nothing ran). */
export const OUTCOME_STATES: readonly JobState[] = [...TERMINAL_STATES].filter((state) => state !== 'SUBMIT_FAILED');

export interface RunRow {
  week: number;
  key: string | null;
  state: JobState;
  jobs: number;
  gpu_ms: number;
}

/** A rollup's period: `days` long, numbered from the epoch (weeks shifted to start on Mondays). */
interface Period {
  days: 1 | 7;
}
const periodMs = ({ days }: Period) => days * DAY_MS;
const periodShift = ({ days }: Period) => (days === 7 ? MONDAY_SHIFT_MS : 0);

/**
 * [from, to) as whole periods of the first of `periods` (a rollup's rows), then whole periods of the next in what is
 * left at the edges, and so on; what no period covers is read from the jobs (`direct`).
 */
function cover(from: number, to: number, periods: Period[]): { whole: Array<{ period: Period; first: number; last: number }>; direct: Array<[number, number]> } {
  const [period, ...finer] = periods;
  if (!period || from >= to) return { whole: [], direct: from < to ? [[from, to]] : [] };
  const [unit, shift] = [periodMs(period), periodShift(period)];
  const first = Math.ceil((from + shift) / unit);
  const last = Math.floor((to + shift) / unit);
  if (first >= last) return cover(from, to, finer);
  const edges = [cover(from, first * unit - shift, finer), cover(last * unit - shift, to, finer)];
  return { whole: [{ period, first, last }, ...edges.flatMap((edge) => edge.whole)], direct: edges.flatMap((edge) => edge.direct) };
}

/**
 * Jobs per week, group and state, with their GPU time: GPUs × (end − start), a running job's up to `now`. A job counts
 * whole in the week (and the range) it started in, or ended in when it never started (cancelled while pending). A
 * requeued job's current run is the one counted, as sacct -X records it. The whole weeks of the range come from the
 * usage_week rollup (the ended jobs, kept by triggers: Migration20261205130000) and the running jobs (a partial index of
 * them); the partial weeks at its edges from the jobs themselves, through the start index and the never-started one.
 */
export function runs(em: EntityManager, groupBy: UsageGroupBy, from: Date, to: Date, now: Date, owner: number | null): Promise<RunRow[]> {
  const sql = dialectOf(em);
  const mine = ofOwner(owner);
  const anchor = 'coalesce("started_at", "ended_at")';
  const select = (table: 'job' | 'sacct') =>
    `select ${weekOf(sql, anchor)} as "week", ${KEY[groupBy][table]} as "key", "state", 1 as "jobs", case when "started_at" is null then 0 else "gpu_count" * (coalesce(${sql.ms('"ended_at"')}, ?) - ${sql.ms('"started_at"')}) end as "gpu_ms"`;
  const { whole, direct } = cover(from.getTime(), to.getTime(), [{ days: 7 }]);
  const parts: string[] = [];
  const bindings: number[] = [];
  for (const [a, b] of direct) {
    parts.push(bothTables(sql, select, [`"started_at" >= ${sql.time} and "started_at" < ${sql.time}${mine}`, `"started_at" is null and "ended_at" >= ${sql.time} and "ended_at" < ${sql.time}${mine}`]));
    for (let index = 0; index < 4; index++) bindings.push(now.getTime(), a, b);
  }
  for (const { first, last } of whole) {
    parts.push(`select "week", ${ROLLUP_KEY[groupBy]} as "key", "state", "jobs", "gpu_ms" from "usage_week" where "week" >= ? and "week" < ?${mine}`);
    bindings.push(first, last);
    // Named: over a whole range the planner would take the start index, which holds every job of those weeks.
    parts.push(bothTables(sql, select, [`"ended_at" is null and "started_at" >= ${sql.time} and "started_at" < ${sql.time}${mine}`], 'running'));
    for (let index = 0; index < 2; index++) bindings.push(now.getTime(), weekStart(first).getTime(), weekStart(last).getTime());
  }
  const statement = `select "week", "key", "state", sum("jobs") as "jobs", sum("gpu_ms") as "gpu_ms" from (${parts.join(' union all ')}) as "runs" group by "week", "key", "state" having sum("jobs") <> 0`;
  return em.getConnection().execute<RunRow[]>(statement, bindings);
}

export interface WaitRow {
  cluster: string;
  partition: string | null;
  gpu_type: string;
  /** Seconds from submit to start, rounded down as waits() says (0 when the start reads before our submit time: the clocks' difference). */
  wait_s: number;
  jobs: number;
  /** How many of those started at or after `recentFrom`. */
  recent: number;
}

/**
 * Queue waits of the jobs that started in [from, to), counted per wait, cluster, partition and GPU type: a histogram,
 * so that percentiles of any combination of groups are read from it without another statement. A wait is counted to
 * the second under 10 minutes, to the minute under 2 hours, to 10 minutes under a day, to the hour beyond: finer
 * than the screens say it, and at most a few hundred values per group however many jobs started. Whole weeks, then
 * whole UTC days, come from the usage_wait rollup (kept by triggers), the parts of days at the windows' edges from the jobs.
 */
export function waits(em: EntityManager, from: Date, to: Date, recentFrom: Date): Promise<WaitRow[]> {
  const sql = dialectOf(em);
  const seconds = `(case when "started_at" > "submitted_at" then (${sql.ms('"started_at"')} - ${sql.ms('"submitted_at"')}) / 1000 else 0 end)`;
  // The same buckets as Migration20261205130000's triggers write into usage_wait (server/usage/rollup.test.ts compares).
  const bucket = `case when ${seconds} < 600 then ${seconds} when ${seconds} < 7200 then ${seconds} / 60 * 60 when ${seconds} < 86400 then ${seconds} / 600 * 600 else ${seconds} / 3600 * 3600 end`;
  const select = () => `select "cluster", "slurm_partition" as "partition", coalesce("gpu_type", 'none') as "gpu_type", cast(${bucket} as integer) as "wait_s", 1 as "jobs", case when "started_at" >= ${sql.time} then 1 else 0 end as "recent"`;
  const parts: string[] = [];
  const bindings: number[] = [];
  // The older and the recent part of the window apart, so that no whole period read from the rollup straddles recentFrom.
  for (const [a, b, recent] of [
    [from.getTime(), Math.max(from.getTime(), recentFrom.getTime()), 0],
    [Math.max(from.getTime(), recentFrom.getTime()), to.getTime(), 1],
  ] as const) {
    const { whole, direct } = cover(a, b, [{ days: 7 }, { days: 1 }]);
    for (const [start, end] of direct) {
      parts.push(bothTables(sql, select, [`"started_at" >= ${sql.time} and "started_at" < ${sql.time} and "submitted_at" is not null`]));
      bindings.push(recentFrom.getTime(), start, end, recentFrom.getTime(), start, end);
    }
    for (const { period, first, last } of whole) {
      parts.push(`select "cluster", nullif("partition", '') as "partition", "gpu_type", "wait_s", "jobs", ${recent ? '"jobs"' : '0'} as "recent" from "usage_wait" where "days" = ? and "period" >= ? and "period" < ?`);
      bindings.push(period.days, first, last);
    }
  }
  if (parts.length === 0) return Promise.resolve([]);
  const statement = `select "cluster", "partition", "gpu_type", "wait_s", sum("jobs") as "jobs", sum("recent") as "recent" from (${parts.join(' union all ')}) as "started" group by "cluster", "partition", "gpu_type", "wait_s" having sum("jobs") <> 0`;
  return em.getConnection().execute<WaitRow[]>(statement, bindings);
}
