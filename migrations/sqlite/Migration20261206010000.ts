import { Migration } from '@mikro-orm/migrations';

// Users (issue 21, the group server): every project, job, sweep, API token and push device belongs to a user, and so
// do the user's jobs launched elsewhere (the sacct read's) and the usage rollups, which gain the user in their keys so
// that each user reads their own figures. The single-user server of before becomes a server with one user, `owner`
// (id 1, an admin), who owns everything there was: the new columns say 1 for the rows stored before (their default
// here; the server always writes the owner itself).
// The rollups are rebuilt as Migration20261205130000 built them, with the user added to each key and trigger, and
// counted again from the jobs (their figures do not change: one user).
const WEEK_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;
const MONDAY_SHIFT_MS = 3 * DAY_MS;

type Source = { row: string; from?: string; project: string; when?: string };

/** Adds (sign 1) or takes away (-1) what one row counts in usage_week. */
const week = ({ row, from, project, when }: Source, sign: 1 | -1) =>
  'insert into `usage_week` (`user_id`, `week`, `cluster`, `project_id`, `gpu_type`, `state`, `jobs`, `gpu_ms`) ' +
  `select ${row}.\`user_id\`, cast((coalesce(${row}.\`started_at\`, ${row}.\`ended_at\`) + ${MONDAY_SHIFT_MS}) / ${WEEK_MS} as integer), ${row}.\`cluster\`, ${project}, coalesce(${row}.\`gpu_type\`, 'none'), ${row}.\`state\`, ${sign}, ` +
  `${sign} * case when ${row}.\`started_at\` is null then 0 else ${row}.\`gpu_count\` * (${row}.\`ended_at\` - ${row}.\`started_at\`) end ` +
  `${from ? `from ${from} ` : ''}where ${row}.\`ended_at\` is not null${when ? ` and ${when}` : ''} ` +
  'on conflict (`week`, `cluster`, `project_id`, `gpu_type`, `state`, `user_id`) do update set `jobs` = `jobs` + excluded.`jobs`, `gpu_ms` = `gpu_ms` + excluded.`gpu_ms`;';

/** The wait bucket: to the second under 10 min, the minute under 2 h, 10 min under a day, the hour beyond. */
const bucket = (row: string) => {
  const seconds = `(case when ${row}.\`started_at\` > ${row}.\`submitted_at\` then (${row}.\`started_at\` - ${row}.\`submitted_at\`) / 1000 else 0 end)`;
  return `case when ${seconds} < 600 then ${seconds} when ${seconds} < 7200 then ${seconds} / 60 * 60 when ${seconds} < 86400 then ${seconds} / 600 * 600 else ${seconds} / 3600 * 3600 end`;
};

/** Adds or takes away what one row counts in usage_wait, in its day and in its week. */
const wait = ({ row, from, when }: Source, sign: 1 | -1) =>
  'insert into `usage_wait` (`user_id`, `days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`, `jobs`) ' +
  `select ${row}.\`user_id\`, \`p\`.\`days\`, cast((${row}.\`started_at\` + case \`p\`.\`days\` when 7 then ${MONDAY_SHIFT_MS} else 0 end) / (\`p\`.\`days\` * ${DAY_MS}) as integer), ${row}.\`cluster\`, coalesce(${row}.\`slurm_partition\`, ''), coalesce(${row}.\`gpu_type\`, 'none'), cast(${bucket(row)} as integer), ${sign} ` +
  `from (select 1 as \`days\` union all select 7) as \`p\`${from ? `, ${from}` : ''} where ${row}.\`started_at\` is not null and ${row}.\`submitted_at\` is not null${when ? ` and ${when}` : ''} ` +
  'on conflict (`days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`, `user_id`) do update set `jobs` = `jobs` + excluded.`jobs`;';

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

const COUNTED = ['user_id', 'started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'project_id', 'state', 'slurm_job_id'];
const SACCT_COUNTED = ['user_id', 'started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'state', 'slurm_job_id'];
const columns = (names: string[]) => names.map((name) => `\`${name}\``).join(', ');
const keyChanged = 'old.`cluster` is not new.`cluster` or old.`slurm_job_id` is not new.`slurm_job_id`';

const now = Date.now();

export class Migration20261206010000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table `user_account` (`id` integer not null primary key autoincrement, `name` text not null, `admin` integer not null, `created_at` datetime not null);');
    this.addSql('create unique index `user_account_name_unique` on `user_account` (`name`);');
    this.addSql(`insert into \`user_account\` (\`id\`, \`name\`, \`admin\`, \`created_at\`) values (1, 'owner', 1, ${now});`);
    for (const table of ['project', 'job', 'sweep', 'api_token', 'push_subscription', 'sacct_job']) {
      this.addSql(`alter table \`${table}\` add column \`user_id\` integer not null default 1;`);
    }
    this.addSql('create index `project_user_id_index` on `project` (`user_id`);');
    this.addSql('create index `job_user_id_archived_id_index` on `job` (`user_id`, `archived`, `id`);');
    this.addSql('create index `job_user_id_state_id_index` on `job` (`user_id`, `state`, `id`);');
    this.addSql('create index `sweep_user_id_archived_id_index` on `sweep` (`user_id`, `archived`, `id`);');
    this.addSql('create index `push_subscription_user_id_index` on `push_subscription` (`user_id`);');
    // The usage indexes hold every column their statements read, now the user too (Migration20261205120000, 130000).
    for (const index of ['job_usage_started_index', 'job_usage_unstarted_index', 'job_usage_running_index', 'sacct_job_usage_started_index', 'sacct_job_usage_unstarted_index', 'sacct_job_usage_running_index']) {
      this.addSql(`drop index \`${index}\`;`);
    }
    this.addSql('create index `job_usage_started_index` on `job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `state`, `cluster`, `project_id`, `slurm_partition`, `gpu_type`, `user_id`);');
    this.addSql('create index `job_usage_unstarted_index` on `job` (`ended_at`, `state`, `cluster`, `project_id`, `gpu_type`, `user_id`) where `started_at` is null;');
    this.addSql('create index `job_usage_running_index` on `job` (`started_at`, `gpu_count`, `state`, `cluster`, `project_id`, `gpu_type`, `ended_at`, `user_id`) where `ended_at` is null;');
    this.addSql('create index `sacct_job_usage_started_index` on `sacct_job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `state`, `cluster`, `slurm_partition`, `gpu_type`, `slurm_job_id`, `user_id`);');
    this.addSql('create index `sacct_job_usage_unstarted_index` on `sacct_job` (`ended_at`, `state`, `cluster`, `gpu_type`, `slurm_job_id`, `user_id`) where `started_at` is null;');
    this.addSql('create index `sacct_job_usage_running_index` on `sacct_job` (`started_at`, `gpu_count`, `state`, `cluster`, `gpu_type`, `slurm_job_id`, `ended_at`, `user_id`) where `ended_at` is null;');

    for (const name of ['job_rollup_after_insert', 'job_rollup_after_delete', 'job_rollup_after_update', 'sacct_job_rollup_after_insert', 'sacct_job_rollup_after_delete', 'sacct_job_rollup_after_update']) {
      this.addSql(`drop trigger \`${name}\`;`);
    }
    this.addSql('drop table `usage_week`;');
    this.addSql('drop table `usage_wait`;');
    // The user last in each key: ranges of weeks and days are read for one user or for all (an admin, the queue waits).
    this.addSql('create table `usage_week` (`week` integer not null, `cluster` text not null, `project_id` integer not null, `gpu_type` text not null, `state` text not null, `user_id` integer not null, `jobs` integer not null, `gpu_ms` bigint not null, primary key (`week`, `cluster`, `project_id`, `gpu_type`, `state`, `user_id`)) without rowid;');
    this.addSql('create table `usage_wait` (`days` integer not null, `period` integer not null, `cluster` text not null, `partition` text not null, `gpu_type` text not null, `wait_s` integer not null, `user_id` integer not null, `jobs` integer not null, primary key (`days`, `period`, `cluster`, `partition`, `gpu_type`, `wait_s`, `user_id`)) without rowid;');
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
