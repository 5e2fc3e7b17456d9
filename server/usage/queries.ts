// The usage aggregates as SQL over our jobs (`job`) and the user's jobs launched elsewhere (`sacct_job`, minus those
// that are also ours: same cluster and SLURM id). Each statement reads only columns of one index per table
// (Migration20261205110000), so no aggregate touches a job's row. Times are epoch milliseconds, as MikroORM keeps
// datetimes in SQLite; `ms()` is the one place a database that keeps real timestamps (PostgreSQL) changes.
import type { EntityManager } from '@mikro-orm/sqlite';
import { TERMINAL_STATES, type JobState } from '../slurm/state.js';

export const USAGE_GROUPS = ['CLUSTER', 'PROJECT', 'GPU_TYPE'] as const;
export type UsageGroupBy = (typeof USAGE_GROUPS)[number];

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-01 was a Thursday: shifted by three days, weeks counted from the epoch start on Mondays (ISO weeks, UTC). */
const MONDAY_SHIFT_MS = 3 * DAY_MS;

/** A datetime column as epoch milliseconds (SQLite: already; PostgreSQL would say `extract(epoch from c) * 1000`). */
const ms = (column: string) => column;

/** The week (Monday 00:00 UTC) a time falls in, as a number of weeks; weekStart() turns it back into a time. */
const weekOf = (column: string) => `cast((${ms(column)} + ${MONDAY_SHIFT_MS}) / ${WEEK_MS} as integer)`;
export const weekStart = (week: number) => new Date(week * WEEK_MS - MONDAY_SHIFT_MS);
/** The Monday 00:00 UTC of the week `at` falls in. */
export const mondayOf = (at: Date) => weekStart(Math.floor((at.getTime() + MONDAY_SHIFT_MS) / WEEK_MS));

// The group key of each table's rows; fixed text, never a value a caller gave. A job launched elsewhere has no project.
const KEY: Record<UsageGroupBy, { job: string; sacct: string }> = {
  CLUSTER: { job: '`cluster`', sacct: '`cluster`' },
  PROJECT: { job: 'cast(`project_id` as text)', sacct: 'null' },
  GPU_TYPE: { job: "coalesce(`gpu_type`, 'none')", sacct: "coalesce(`gpu_type`, 'none')" },
};

/** A job launched elsewhere that is also one of ours is counted once, as ours (the `job` table's index on cluster and SLURM id). */
const NOT_OURS = 'not exists (select 1 from `job` as `ours` where `ours`.`cluster` = `s`.`cluster` and `ours`.`slurm_job_id` = `s`.`slurm_job_id`)';

/**
 * Both tables' rows: each table searched through one of its usage indexes (SQLite does not push a filter into a
 * union), jobs that are also ours left out of the accounting half. `halves` are the filters, each with its index.
 */
function bothTables(select: (table: 'job' | 'sacct') => string, halves: string[]): string {
  return halves.flatMap((where) => [`${select('job')} from \`job\` where ${where}`, `${select('sacct')} from \`sacct_job\` as \`s\` where ${where} and ${NOT_OURS}`]).join(' union all ');
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

/**
 * Jobs per week, group and state, with their GPU time: GPUs × (end − start), a running job's up to `now`. A job counts
 * whole in the week (and the range) it started in, or ended in when it never started (cancelled while pending). One
 * scan for GPU-hours and outcomes: the start index, and a partial index of the jobs that never started. A requeued
 * job's current run is the one counted, as sacct -X records it.
 */
export function runs(em: EntityManager, groupBy: UsageGroupBy, from: Date, to: Date, now: Date): Promise<RunRow[]> {
  const select = (table: 'job' | 'sacct') =>
    `select ${weekOf('coalesce(`started_at`, `ended_at`)')} as \`week\`, ${KEY[groupBy][table]} as \`key\`, \`state\`, case when \`started_at\` is null then 0 else \`gpu_count\` * (coalesce(${ms('`ended_at`')}, ?) - ${ms('`started_at`')}) end as \`gpu_ms\``;
  const halves = ['`started_at` >= ? and `started_at` < ?', '`started_at` is null and `ended_at` >= ? and `ended_at` < ?'];
  const sql = `select \`week\`, \`key\`, \`state\`, count(*) as \`jobs\`, sum(\`gpu_ms\`) as \`gpu_ms\` from (${bothTables(select, halves)}) as \`runs\` group by \`week\`, \`key\`, \`state\``;
  const half = [now.getTime(), from.getTime(), to.getTime()];
  return em.getConnection().execute<RunRow[]>(sql, [...half, ...half, ...half, ...half]);
}

export interface WaitRow {
  cluster: string;
  partition: string | null;
  gpu_type: string | null;
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
 * than the screens say it, and at most a few hundred values per group however many jobs started.
 */
export function waits(em: EntityManager, from: Date, to: Date, recentFrom: Date): Promise<WaitRow[]> {
  const seconds = `(case when ${ms('`started_at`')} > ${ms('`submitted_at`')} then (${ms('`started_at`')} - ${ms('`submitted_at`')}) / 1000 else 0 end)`;
  const bucket = `case when ${seconds} < 600 then ${seconds} when ${seconds} < 7200 then ${seconds} / 60 * 60 when ${seconds} < 86400 then ${seconds} / 600 * 600 else ${seconds} / 3600 * 3600 end`;
  const select = () => `select \`cluster\`, \`slurm_partition\` as \`partition\`, \`gpu_type\`, cast(${bucket} as integer) as \`wait_s\`, case when \`started_at\` >= ? then 1 else 0 end as \`recent\``;
  const sql = `select \`cluster\`, \`partition\`, \`gpu_type\`, \`wait_s\`, count(*) as \`jobs\`, sum(\`recent\`) as \`recent\` from (${bothTables(select, ['`started_at` >= ? and `started_at` < ? and `submitted_at` is not null'])}) as \`started\` group by \`cluster\`, \`partition\`, \`gpu_type\`, \`wait_s\``;
  const bindings = [recentFrom.getTime(), from.getTime(), to.getTime()];
  return em.getConnection().execute<WaitRow[]>(sql, [...bindings, ...bindings]);
}
