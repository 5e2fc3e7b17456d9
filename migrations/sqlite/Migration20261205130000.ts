import { Migration } from '@mikro-orm/migrations';

// Usage analytics read small rollups instead of every job (issue 19: the computed usage query under 50 ms at 100,000
// jobs; the scans of 20261205120000 cost ~120 ms):
// - usage_week: the ENDED jobs (ended_at set) per week of their start (or end, when they never started), cluster,
//   project (0: launched elsewhere), GPU type ('none': no GPUs) and state, with their GPU time. Running jobs are few
//   and grow with the clock: the query adds them live, and reads the partial weeks at a range's edges from the jobs.
// - usage_wait: the started jobs' queue waits per period of their start — each job in its UTC day (days 1) and its
//   week (days 7: a 30-day window is mostly whole weeks, a few hundred rows each where days hold nearly a row per job)
//   —, cluster, partition ('': the default), GPU type and wait bucket (the bucket of server/usage/queries.ts's waits()).
// Kept by triggers, so that every write — the ORM's flush, the sacct read's upsert, a delete, SQL by hand — keeps them
// exact: each trigger takes away what the old row counted and adds what the new row counts (the sums are linear, so
// the order triggers fire in does not matter). A job launched elsewhere counts while no job of ours has its cluster and
// SLURM id: a job of ours taking that id takes its count away, losing it gives the count back.
// PostgreSQL (issue 21): the same statements as plpgsql trigger functions (`insert ... on conflict ... do update` is
// the same there; `new`/`old` are the function's records); the week and day expressions read
// `extract(epoch from c) * 1000` for a timestamp column, cast to bigint (not integer: epoch milliseconds and GPU-ms
// overflow 32 bits; gpu_ms a bigint column); FOR EACH ROW triggers, after insert/update/delete as here; `without rowid`
// is dropped (there a table is a heap beside its primary key's index).
const WEEK_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;
const MONDAY_SHIFT_MS = 3 * DAY_MS;

type Source = { row: string; from?: string; project: string; when?: string };

/** Adds (sign 1) or takes away (-1) what one row counts in usage_week. */
const week = ({ row, from, project, when }: Source, sign: 1 | -1) =>
  'insert into `usage_week` (`week`, `cluster`, `project_id`, `gpu_type`, `state`, `jobs`, `gpu_ms`) ' +
  `select cast((coalesce(${row}.\`started_at\`, ${row}.\`ended_at\`) + ${MONDAY_SHIFT_MS}) / ${WEEK_MS} as integer), ${row}.\`cluster\`, ${project}, coalesce(${row}.\`gpu_type\`, 'none'), ${row}.\`state\`, ${sign}, ` +
  `${sign} * case when ${row}.\`started_at\` is null then 0 else ${row}.\`gpu_count\` * (${row}.\`ended_at\` - ${row}.\`started_at\`) end ` +
  `${from ? `from ${from} ` : ''}where ${row}.\`ended_at\` is not null${when ? ` and ${when}` : ''} ` +
  'on conflict (`week`, `cluster`, `project_id`, `gpu_type`, `state`) do update set `jobs` = `jobs` + excluded.`jobs`, `gpu_ms` = `gpu_ms` + excluded.`gpu_ms`;';

/** The wait bucket: to the second under 10 min, the minute under 2 h, 10 min under a day, the hour beyond. */
const bucket = (row: string) => {
  const seconds = `(case when ${row}.\`started_at\` > ${row}.\`submitted_at\` then (${row}.\`started_at\` - ${row}.\`submitted_at\`) / 1000 else 0 end)`;
  return `case when ${seconds} < 600 then ${seconds} when ${seconds} < 7200 then ${seconds} / 60 * 60 when ${seconds} < 86400 then ${seconds} / 600 * 600 else ${seconds} / 3600 * 3600 end`;
};

/** Adds or takes away what one row counts in usage_wait, in its day and in its week. */
const wait = ({ row, from, when }: Source, sign: 1 | -1) =>
  'insert into `usage_wait` (`days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`, `jobs`) ' +
  `select \`p\`.\`days\`, cast((${row}.\`started_at\` + case \`p\`.\`days\` when 7 then ${MONDAY_SHIFT_MS} else 0 end) / (\`p\`.\`days\` * ${DAY_MS}) as integer), ${row}.\`cluster\`, coalesce(${row}.\`slurm_partition\`, ''), coalesce(${row}.\`gpu_type\`, 'none'), cast(${bucket(row)} as integer), ${sign} ` +
  `from (select 1 as \`days\` union all select 7) as \`p\`${from ? `, ${from}` : ''} where ${row}.\`started_at\` is not null and ${row}.\`submitted_at\` is not null${when ? ` and ${when}` : ''} ` +
  'on conflict (`days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`) do update set `jobs` = `jobs` + excluded.`jobs`;';

const both = (source: Source, sign: 1 | -1) => `${week(source, sign)} ${wait(source, sign)}`;

const ours = (row: string) => ({ row, project: `coalesce(${row}.\`project_id\`, 0)` });
/** No job of ours (but `except`, a job id) has this cluster and SLURM id. */
const noneOurs = (cluster: string, slurmJobId: string, except?: string) =>
  `not exists (select 1 from \`job\` as \`o\` where \`o\`.\`cluster\` = ${cluster} and \`o\`.\`slurm_job_id\` = ${slurmJobId}${except ? ` and \`o\`.\`id\` <> ${except}` : ''})`;
/** A sacct row by its own values (new/old in sacct_job's triggers). */
const sacctRow = (row: string): Source => ({ row, project: '0', when: noneOurs(`${row}.\`cluster\``, `${row}.\`slurm_job_id\``) });
/** The sacct row with a job's cluster and SLURM id, while no other job of ours has them. */
const sacctOf = (row: string, except?: string): Source => ({
  row: '`s`',
  from: `\`sacct_job\` as \`s\``,
  project: '0',
  when: `\`s\`.\`cluster\` = ${row}.\`cluster\` and \`s\`.\`slurm_job_id\` = ${row}.\`slurm_job_id\` and ${noneOurs(`${row}.\`cluster\``, `${row}.\`slurm_job_id\``, except)}`,
});

const COUNTED = ['started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'project_id', 'state', 'slurm_job_id'];
const SACCT_COUNTED = ['started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'state', 'slurm_job_id'];
const columns = (names: string[]) => names.map((name) => `\`${name}\``).join(', ');
const keyChanged = 'old.`cluster` is not new.`cluster` or old.`slurm_job_id` is not new.`slurm_job_id`';

export class Migration20261205130000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table `usage_week` (`week` integer not null, `cluster` text not null, `project_id` integer not null, `gpu_type` text not null, `state` text not null, `jobs` integer not null, `gpu_ms` integer not null, primary key (`week`, `cluster`, `project_id`, `gpu_type`, `state`)) without rowid;');
    this.addSql('create table `usage_wait` (`days` integer not null, `period` integer not null, `cluster` text not null, `partition` text not null, `gpu_type` text not null, `wait_s` integer not null, `jobs` integer not null, primary key (`days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`)) without rowid;');
    // The running jobs the query adds live (and the pending ones, which it does not read).
    this.addSql('create index `job_usage_running_index` on `job` (`started_at`, `gpu_count`, `state`, `cluster`, `project_id`, `gpu_type`, `ended_at`) where `ended_at` is null;');
    this.addSql('create index `sacct_job_usage_running_index` on `sacct_job` (`started_at`, `gpu_count`, `state`, `cluster`, `gpu_type`, `slurm_job_id`, `ended_at`) where `ended_at` is null;');

    // The rows stored before: every job's count added one by one, as the triggers would have.
    this.addSql(week({ ...ours('`j`'), from: '`job` as `j`' }, 1));
    this.addSql(wait({ ...ours('`j`'), from: '`job` as `j`' }, 1));
    this.addSql(week({ ...sacctRow('`t`'), from: '`sacct_job` as `t`' }, 1));
    this.addSql(wait({ ...sacctRow('`t`'), from: '`sacct_job` as `t`' }, 1));

    this.addSql(`create trigger \`job_rollup_after_insert\` after insert on \`job\` begin ${both(ours('new'), 1)} ${both(sacctOf('new', 'new.`id`'), -1)} end;`);
    this.addSql(`create trigger \`job_rollup_after_delete\` after delete on \`job\` begin ${both(ours('old'), -1)} ${both(sacctOf('old'), 1)} end;`);
    this.addSql(
      `create trigger \`job_rollup_after_update\` after update of ${columns(COUNTED)} on \`job\` begin ${both(ours('old'), -1)} ${both(ours('new'), 1)} ` +
        `${both({ ...sacctOf('old'), when: `(${keyChanged}) and ${sacctOf('old').when}` }, 1)} ${both({ ...sacctOf('new', 'new.`id`'), when: `(${keyChanged}) and ${sacctOf('new', 'new.`id`').when}` }, -1)} end;`,
    );
    this.addSql(`create trigger \`sacct_job_rollup_after_insert\` after insert on \`sacct_job\` begin ${both(sacctRow('new'), 1)} end;`);
    this.addSql(`create trigger \`sacct_job_rollup_after_delete\` after delete on \`sacct_job\` begin ${both(sacctRow('old'), -1)} end;`);
    this.addSql(`create trigger \`sacct_job_rollup_after_update\` after update of ${columns(SACCT_COUNTED)} on \`sacct_job\` begin ${both(sacctRow('old'), -1)} ${both(sacctRow('new'), 1)} end;`);
  }

}
