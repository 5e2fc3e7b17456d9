import { Migration } from '@mikro-orm/migrations';

// Sweeps (issue 15): a Hydra multirun launched as one SLURM job array, and its tasks as jobs that know their sweep
// and their index in its array.
export class Migration20261205000000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table `sweep` (`id` integer not null primary key autoincrement, `tag` text not null, `project_id` integer not null, `cluster` text not null, `name` text not null, `commit_sha` text not null, `input` json not null, `definition` json not null, `varying` json not null, `size` integer not null, `runs` json not null, `throttle` integer not null, `array_job_id` text null, `retries` integer not null, `counts` json not null, `archived` integer not null, `created_at` datetime not null, `updated_at` datetime not null, `ended_at` datetime null);');
    this.addSql('create unique index `sweep_tag_unique` on `sweep` (`tag`);');
    this.addSql('create index `sweep_project_id_archived_id_index` on `sweep` (`project_id`, `archived`, `id`);');
    this.addSql('create index `sweep_archived_id_index` on `sweep` (`archived`, `id`);');
    this.addSql('alter table `job` add column `sweep_id` integer null;');
    this.addSql('alter table `job` add column `array_index` integer null;');
    this.addSql('alter table `push_subscription` add column `failed_task_pushes` integer not null default false;');
    this.addSql('create index `job_sweep_id_array_index_index` on `job` (`sweep_id`, `array_index`);');
  }

}
