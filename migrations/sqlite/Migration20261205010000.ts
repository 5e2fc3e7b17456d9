import { Migration } from '@mikro-orm/migrations';

// Training curves (issue 16): the points read from jobs' logs, metric files and GPU samplers, and where the reading
// of each file stands.
export class Migration20261205010000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table `metric_point` (`id` integer not null primary key autoincrement, `job_id` integer not null, `source_id` integer not null, `name` text not null, `step` double not null, `value` double null, `time` double not null);');
    this.addSql('create index `metric_point_job_id_name_step_index` on `metric_point` (`job_id`, `name`, `step`);');
    this.addSql('create index `metric_point_source_id_index` on `metric_point` (`source_id`);');
    this.addSql('create table `metric_source` (`id` integer not null primary key autoincrement, `job_id` integer not null, `path` text not null, `format` text not null, `offset` integer not null, `state` json not null, `done` integer not null);');
    this.addSql('create unique index `metric_source_job_id_path_unique` on `metric_source` (`job_id`, `path`);');
  }

}
