import { Migration } from '@mikro-orm/migrations';

// Usage analytics, one scan instead of two (measured at 100,000 jobs, bench/api): GPU-hours and outcomes come from one
// statement that counts each job in the week it started, or ended when it never started. The start index gains the
// state; jobs that never started are found through a partial index of them alone, in place of an index of every end.
export class Migration20261205120000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('drop index `job_usage_started_index`;');
    this.addSql('drop index `job_usage_ended_index`;');
    this.addSql('create index `job_usage_started_index` on `job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `state`, `cluster`, `project_id`, `slurm_partition`, `gpu_type`);');
    this.addSql('create index `job_usage_unstarted_index` on `job` (`ended_at`, `state`, `cluster`, `project_id`, `gpu_type`) where `started_at` is null;');
    this.addSql('drop index `sacct_job_usage_started_index`;');
    this.addSql('drop index `sacct_job_usage_ended_index`;');
    this.addSql('create index `sacct_job_usage_started_index` on `sacct_job` (`started_at`, `ended_at`, `submitted_at`, `gpu_count`, `state`, `cluster`, `slurm_partition`, `gpu_type`, `slurm_job_id`);');
    this.addSql('create index `sacct_job_usage_unstarted_index` on `sacct_job` (`ended_at`, `state`, `cluster`, `gpu_type`, `slurm_job_id`) where `started_at` is null;');
  }

}
