import { Migration } from '@mikro-orm/migrations';

// Usage analytics (issue 19): GPU-hours, outcomes and queue waits as SQL aggregates over indexes that hold every
// column they read, so no aggregate reads a job's row (its script and settings are kilobytes).
// - job: its GPUs, GPU type and partition as columns, read from its launch settings (JSON) by triggers, as the job
//   search's index is kept (Migration20261205080000); the server never writes them. gpu_type is 'any' for GPUs of no
//   named type and null without GPUs; slurm_partition null is the cluster's default partition. On PostgreSQL these
//   are generated stored columns. (SQLite's virtual generated columns were measured: an index on them is never
//   covering, so every aggregate read each job's row.)
// - sacct_job: the user's jobs launched elsewhere, from the daily sacct read (server/usage/), same columns;
//   sacct_read: where each cluster's read stands.
export class Migration20261205110000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `job` add column `gpu_count` integer not null default 0;');
    this.addSql('alter table `job` add column `gpu_type` text null;');
    this.addSql('alter table `job` add column `slurm_partition` text null;');
    const set = (row: string) =>
      `\`gpu_count\` = case when json_valid(${row}.\`input\`) then max(coalesce(cast(json_extract(${row}.\`input\`, '$.gpusPerNode') as integer), 0), 0) * max(coalesce(cast(json_extract(${row}.\`input\`, '$.nodes') as integer), 1), 1) else 0 end, ` +
      `\`gpu_type\` = case when json_valid(${row}.\`input\`) and coalesce(cast(json_extract(${row}.\`input\`, '$.gpusPerNode') as integer), 0) > 0 then coalesce(nullif(json_extract(${row}.\`input\`, '$.gpuType'), ''), 'any') end, ` +
      `\`slurm_partition\` = case when json_valid(${row}.\`input\`) then nullif(json_extract(${row}.\`input\`, '$.partition'), '') end`;
    this.addSql(`create trigger \`job_usage_after_insert\` after insert on \`job\` begin update \`job\` set ${set('new')} where \`id\` = new.\`id\`; end;`);
    this.addSql(`create trigger \`job_usage_after_update\` after update of \`input\` on \`job\` begin update \`job\` set ${set('new')} where \`id\` = new.\`id\`; end;`);
    // The jobs stored before this migration.
    this.addSql(`update \`job\` set ${set('`job`')};`);
    this.addSql('create index `job_usage_started_index` on `job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `cluster`, `project_id`, `slurm_partition`, `gpu_type`);');
    this.addSql('create index `job_usage_ended_index` on `job` (`ended_at`, `state`, `cluster`, `project_id`, `gpu_type`);');

    this.addSql(
      'create table `sacct_job` (`cluster` text not null, `slurm_job_id` text not null, `state` text not null, `slurm_state` text not null, `slurm_partition` text null, `gpu_count` integer not null, `gpu_type` text null, `exit_code` integer null, `submitted_at` datetime null, `started_at` datetime null, `ended_at` datetime null, `read_at` datetime not null, primary key (`cluster`, `slurm_job_id`));',
    );
    this.addSql('create index `sacct_job_usage_started_index` on `sacct_job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `cluster`, `slurm_partition`, `gpu_type`, `slurm_job_id`);');
    this.addSql('create index `sacct_job_usage_ended_index` on `sacct_job` (`ended_at`, `state`, `cluster`, `gpu_type`, `slurm_job_id`);');
    this.addSql('create table `sacct_read` (`cluster` text not null primary key, `since` datetime null, `read_at` datetime null, `attempted_at` datetime not null, `jobs` integer not null, `error` text null);');
  }

}
