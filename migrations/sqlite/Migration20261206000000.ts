import { Migration } from '@mikro-orm/migrations';

// Two columns declared bigint, as the entities now say (issue 21: on PostgreSQL an integer is 32 bits, and a week's
// GPU-milliseconds or a metrics file's byte offset outgrow it). SQLite stores the same 64-bit integers either way:
// this changes the declared type only, so that both engines' schemas read the same. SQLite changes a column's type by
// rebuilding its table. legacy_alter_table: the rename must not check the rollup triggers on `job`, whose bodies name
// usage_week, while it is gone.
export class Migration20261206000000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('pragma legacy_alter_table = on;');
    this.addSql('create table "usage_week_bigint" ("week" integer not null, "cluster" text not null, "project_id" integer not null, "gpu_type" text not null, "state" text not null, "jobs" integer not null, "gpu_ms" bigint not null, primary key ("week", "cluster", "project_id", "gpu_type", "state")) without rowid;');
    this.addSql('insert into "usage_week_bigint" select "week", "cluster", "project_id", "gpu_type", "state", "jobs", "gpu_ms" from "usage_week";');
    this.addSql('drop table "usage_week";');
    this.addSql('alter table "usage_week_bigint" rename to "usage_week";');
    this.addSql('create table "metric_source_bigint" ("id" integer not null primary key autoincrement, "job_id" integer not null, "path" text not null, "format" text not null, "offset" bigint not null, "state" json not null, "done" integer not null);');
    this.addSql('insert into "metric_source_bigint" select "id", "job_id", "path", "format", "offset", "state", "done" from "metric_source";');
    this.addSql('drop table "metric_source";');
    this.addSql('alter table "metric_source_bigint" rename to "metric_source";');
    this.addSql('create unique index "metric_source_job_id_path_unique" on "metric_source" ("job_id", "path");');
    this.addSql('pragma legacy_alter_table = off;');
  }

}
