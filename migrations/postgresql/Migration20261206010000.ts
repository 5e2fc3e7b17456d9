import { Migration } from '@mikro-orm/migrations';

// PostgreSQL's first migration (issue 21): the whole schema as SQLite's migrations left it at Migration20261206010000,
// whose name it takes, so that from here on each migration is a pair of the same name in migrations/sqlite and
// migrations/postgresql (server/db/schema-parity.test.ts compares what they build). A PostgreSQL database starts empty,
// so none of SQLite's backfills are here. What SQLite's migrations do with triggers, this does with plpgsql triggers,
// column for column:
// - the job's GPUs, GPU type and partition read from its launch settings (Migration20261205110000): set before the row
//   is written, so the rollups' triggers after it see them;
// - the usage rollups (Migration20261205130000), the same statements with datetimes read as epoch milliseconds;
// - the job search (Migration20261205080000: FTS5 there) as a table of tsvectors, see jobSearch below;
// - a revoked token's push devices deleted with it (Migration20261204000000: a foreign key there).
const WEEK_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;
const MONDAY_SHIFT_MS = 3 * DAY_MS;

/** A timestamp as integer epoch milliseconds: bigint, so that `/` is integer division as on SQLite's integers. */
const ms = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint`;

type Source = { row: string; from?: string; project: string; when?: string };

/** Adds (sign 1) or takes away (-1) what one row counts in usage_week. */
const week = ({ row, from, project, when }: Source, sign: 1 | -1) =>
  'insert into "usage_week" ("user_id", "week", "cluster", "project_id", "gpu_type", "state", "jobs", "gpu_ms") ' +
  `select ${row}."user_id", ((${ms(`coalesce(${row}."started_at", ${row}."ended_at")`)} + ${MONDAY_SHIFT_MS}) / ${WEEK_MS})::integer, ${row}."cluster", ${project}, coalesce(${row}."gpu_type", 'none'), ${row}."state", ${sign}, ` +
  `${sign} * case when ${row}."started_at" is null then 0 else ${row}."gpu_count" * (${ms(`${row}."ended_at"`)} - ${ms(`${row}."started_at"`)}) end ` +
  `${from ? `from ${from} ` : ''}where ${row}."ended_at" is not null${when ? ` and ${when}` : ''} ` +
  'on conflict ("week", "cluster", "project_id", "gpu_type", "state", "user_id") do update set "jobs" = "usage_week"."jobs" + excluded."jobs", "gpu_ms" = "usage_week"."gpu_ms" + excluded."gpu_ms";';

/** The wait bucket: to the second under 10 min, the minute under 2 h, 10 min under a day, the hour beyond. */
const bucket = (row: string) => {
  const seconds = `(case when ${row}."started_at" > ${row}."submitted_at" then (${ms(`${row}."started_at"`)} - ${ms(`${row}."submitted_at"`)}) / 1000 else 0 end)`;
  return `case when ${seconds} < 600 then ${seconds} when ${seconds} < 7200 then ${seconds} / 60 * 60 when ${seconds} < 86400 then ${seconds} / 600 * 600 else ${seconds} / 3600 * 3600 end`;
};

/** Adds or takes away what one row counts in usage_wait, in its day and in its week. */
const wait = ({ row, from, when }: Source, sign: 1 | -1) =>
  'insert into "usage_wait" ("user_id", "days", "period", "cluster", "partition", "gpu_type", "wait_s", "jobs") ' +
  `select ${row}."user_id", "p"."days", ((${ms(`${row}."started_at"`)} + case "p"."days" when 7 then ${MONDAY_SHIFT_MS} else 0 end) / ("p"."days" * ${DAY_MS}))::integer, ${row}."cluster", coalesce(${row}."slurm_partition", ''), coalesce(${row}."gpu_type", 'none'), (${bucket(row)})::integer, ${sign} ` +
  `from (select 1 as "days" union all select 7) as "p"${from ? `, ${from}` : ''} where ${row}."started_at" is not null and ${row}."submitted_at" is not null${when ? ` and ${when}` : ''} ` +
  'on conflict ("days", "period", "cluster", "partition", "gpu_type", "wait_s", "user_id") do update set "jobs" = "usage_wait"."jobs" + excluded."jobs";';

const both = (source: Source, sign: 1 | -1) => `${week(source, sign)} ${wait(source, sign)}`;

const ours = (row: string) => ({ row, project: `coalesce(${row}."project_id", 0)` });
/** No job of ours (but `except`, a job id) has this cluster and SLURM id. */
const noneOurs = (cluster: string, slurmJobId: string, except?: string) =>
  `not exists (select 1 from "job" as "o" where "o"."cluster" = ${cluster} and "o"."slurm_job_id" = ${slurmJobId}${except ? ` and "o"."id" <> ${except}` : ''})`;
/** A sacct row by its own values (new/old in sacct_job's triggers). */
const sacctRow = (row: string): Source => ({ row, project: '0', when: noneOurs(`${row}."cluster"`, `${row}."slurm_job_id"`) });
/** The sacct row with a job's cluster and SLURM id, while no other job of ours has them. */
const sacctOf = (row: string, except?: string): Source => ({
  row: '"s"',
  from: '"sacct_job" as "s"',
  project: '0',
  when: `"s"."cluster" = ${row}."cluster" and "s"."slurm_job_id" = ${row}."slurm_job_id" and ${noneOurs(`${row}."cluster"`, `${row}."slurm_job_id"`, except)}`,
});

const COUNTED = ['user_id', 'started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'project_id', 'state', 'slurm_job_id'];
const SACCT_COUNTED = ['user_id', 'started_at', 'ended_at', 'submitted_at', 'gpu_count', 'gpu_type', 'slurm_partition', 'cluster', 'state', 'slurm_job_id'];
const changed = (names: string[]) => names.map((name) => `old."${name}" is distinct from new."${name}"`).join(' or ');
const keyChanged = 'old."cluster" is distinct from new."cluster" or old."slurm_job_id" is distinct from new."slurm_job_id"';

/** A row trigger running `body` (plpgsql statements) through a function of the same name, when `condition` holds. */
const trigger = (name: string, event: string, table: string, body: string, condition?: string) => [
  `create function "${name}"() returns trigger language plpgsql as $$ begin ${body} return null; end $$;`,
  `create trigger "${name}" ${event} on "${table}" for each row${condition ? ` when (${condition})` : ''} execute function "${name}"();`,
];

/** A JSON number of the launch settings as an integer; null when it is missing or no number (never an error). */
const settingsInteger = (key: string) => `case when jsonb_typeof(new."input" -> '${key}') = 'number' then trunc((new."input" ->> '${key}')::numeric)::integer end`;

/**
 * The job search: each job's name (weight A) and description (weight B) as words of the `simple` configuration (no
 * stemming, no stop words, case folded, diacritics kept), after every run of characters that are not letters or
 * digits became a space, so that words split where SQLite's unicode61 splits them ("v1.2", paths and addresses are
 * several words, not one token). server/jobs/search.ts asks for a phrase within one weight, so it never runs from the
 * name into the description.
 */
const searchDocument = (row: string) =>
  `setweight(to_tsvector('simple', regexp_replace(${row}."name", '[^[:alnum:]]+', ' ', 'g')), 'A') || setweight(to_tsvector('simple', regexp_replace(${row}."description", '[^[:alnum:]]+', ' ', 'g')), 'B')`;

export class Migration20261206010000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table "api_token" ("id" serial primary key, "user_id" int not null, "name" text not null, "token_hash" text not null, "read_only" boolean not null, "created_at" timestamptz not null, "last_used_at" timestamptz null);');
    this.addSql('alter table "api_token" add constraint "api_token_name_unique" unique ("name");');
    this.addSql('alter table "api_token" add constraint "api_token_token_hash_unique" unique ("token_hash");');
    this.addSql('create table "cluster_check" ("cluster" text not null, "reachable" boolean not null, "latency_ms" int null, "slurm_version" text null, "partitions" jsonb not null, "error" text null, "checked_at" timestamptz not null, constraint "cluster_check_pkey" primary key ("cluster"));');
    this.addSql('create table "job" ("id" serial primary key, "tag" text not null, "user_id" int not null, "project_id" int not null, "parent_id" int null, "sweep_id" int null, "array_index" int null, "cluster" text not null, "name" text not null, "description" text not null, "commit_sha" text not null, "branch" text null, "input" jsonb not null, "script" text not null, "job_dir" text not null, "slurm_job_id" text null, "state" text not null, "slurm_state" text null, "reason" text null, "exit_code" int null, "signal" int null, "node_list" text null, "submit_error" text null, "wandb_url" text null, "archived" boolean not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "submitted_at" timestamptz null, "started_at" timestamptz null, "ended_at" timestamptz null, "elapsed_seconds" int null, "estimated_start_at" timestamptz null, "last_seen_at" timestamptz null, "time_limit_at" timestamptz null, "restarts" int not null default 0, "requeues" jsonb not null default \'[]\', "gpu_count" int not null default 0, "gpu_type" text null, "slurm_partition" text null);');
    this.addSql('alter table "job" add constraint "job_tag_unique" unique ("tag");');
    this.addSql('create index "job_project_id_archived_id_index" on "job" ("project_id", "archived", "id");');
    this.addSql('create index "job_project_id_state_id_index" on "job" ("project_id", "state", "id");');
    this.addSql('create index "job_state_id_index" on "job" ("state", "id");');
    this.addSql('create index "job_cluster_state_index" on "job" ("cluster", "state");');
    this.addSql('create index "job_cluster_slurm_job_id_index" on "job" ("cluster", "slurm_job_id");');
    this.addSql('create index "job_parent_id_index" on "job" ("parent_id");');
    this.addSql('create index "job_sweep_id_array_index_index" on "job" ("sweep_id", "array_index");');
    this.addSql('create index "job_user_id_archived_id_index" on "job" ("user_id", "archived", "id");');
    this.addSql('create index "job_user_id_state_id_index" on "job" ("user_id", "state", "id");');
    this.addSql('create index "job_usage_started_index" on "job" ("started_at", "ended_at", "submitted_at", "gpu_count", "state", "cluster", "project_id", "slurm_partition", "gpu_type", "user_id");');
    this.addSql('create index "job_usage_unstarted_index" on "job" ("ended_at", "state", "cluster", "project_id", "gpu_type", "user_id") where "started_at" is null;');
    this.addSql('create index "job_usage_running_index" on "job" ("started_at", "gpu_count", "state", "cluster", "project_id", "gpu_type", "ended_at", "user_id") where "ended_at" is null;');
    this.addSql('create table "metric_bucket" ("job_id" int not null, "name" text not null, "k" int not null, "exponent" int not null, "count" int not null, "points" text not null, constraint "metric_bucket_pkey" primary key ("job_id", "name", "k"));');
    this.addSql('create table "metric_point" ("id" serial primary key, "job_id" int not null, "source_id" int not null, "name" text not null, "step" double precision not null, "value" double precision null, "time" double precision not null);');
    this.addSql('create index "metric_point_job_id_name_step_index" on "metric_point" ("job_id", "name", "step");');
    this.addSql('create index "metric_point_source_id_index" on "metric_point" ("source_id");');
    this.addSql('create table "metric_source" ("id" serial primary key, "job_id" int not null, "path" text not null, "format" text not null, "offset" bigint not null, "state" jsonb not null, "done" boolean not null);');
    this.addSql('alter table "metric_source" add constraint "metric_source_job_id_path_unique" unique ("job_id", "path");');
    this.addSql('create table "project" ("id" serial primary key, "user_id" int not null, "name" text not null, "local_path" text not null, "origin_url" text null, "clone_url" text null, "branch" text null, "head_sha" text not null, "head_subject" text not null, "dirty" boolean not null, "pushed" boolean not null, "settings" jsonb not null, "synced_at" timestamptz not null, "created_at" timestamptz not null, "deleted_at" timestamptz null);');
    this.addSql('alter table "project" add constraint "project_local_path_unique" unique ("local_path");');
    this.addSql('create index "project_user_id_index" on "project" ("user_id");');
    this.addSql('create table "push_notice" ("key" text not null, "created_at" timestamptz not null, constraint "push_notice_pkey" primary key ("key"));');
    this.addSql('create table "push_subscription" ("id" serial primary key, "user_id" int not null, "endpoint" text not null, "p256dh" text not null, "auth" text not null, "token_id" int null, "pending_after_minutes" int null, "muted_project_ids" jsonb not null, "failed_task_pushes" boolean not null default false, "metric_nan_pushes" boolean not null default true, "gpu_idle_pushes" boolean not null default true, "started_after_wait_minutes" int null, "requeue_pushes" boolean not null default true, "time_limit_pushes" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, "last_success_at" timestamptz null, "last_failure_at" timestamptz null, "last_error" text null);');
    this.addSql('create index "push_subscription_user_id_index" on "push_subscription" ("user_id");');
    this.addSql('alter table "push_subscription" add constraint "push_subscription_endpoint_unique" unique ("endpoint");');
    this.addSql('create index "push_subscription_token_id_index" on "push_subscription" ("token_id");');
    this.addSql('create table "sacct_job" ("cluster" text not null, "slurm_job_id" text not null, "user_id" int not null, "state" text not null, "slurm_state" text not null, "slurm_partition" text null, "gpu_count" int not null, "gpu_type" text null, "exit_code" int null, "submitted_at" timestamptz null, "started_at" timestamptz null, "ended_at" timestamptz null, "read_at" timestamptz not null, constraint "sacct_job_pkey" primary key ("cluster", "slurm_job_id"));');
    this.addSql('create index "sacct_job_usage_started_index" on "sacct_job" ("started_at", "ended_at", "submitted_at", "gpu_count", "state", "cluster", "slurm_partition", "gpu_type", "slurm_job_id", "user_id");');
    this.addSql('create index "sacct_job_usage_unstarted_index" on "sacct_job" ("ended_at", "state", "cluster", "gpu_type", "slurm_job_id", "user_id") where "started_at" is null;');
    this.addSql('create index "sacct_job_usage_running_index" on "sacct_job" ("started_at", "gpu_count", "state", "cluster", "gpu_type", "slurm_job_id", "ended_at", "user_id") where "ended_at" is null;');
    this.addSql('create table "sacct_read" ("cluster" text not null, "since" timestamptz null, "read_at" timestamptz null, "attempted_at" timestamptz not null, "jobs" int not null, "error" text null, constraint "sacct_read_pkey" primary key ("cluster"));');
    this.addSql('create table "server_setting" ("key" text not null, "value" text not null, "created_at" timestamptz not null, constraint "server_setting_pkey" primary key ("key"));');
    this.addSql('create table "sweep" ("id" serial primary key, "tag" text not null, "user_id" int not null, "project_id" int not null, "cluster" text not null, "name" text not null, "commit_sha" text not null, "input" jsonb not null, "definition" jsonb not null, "varying" jsonb not null, "size" int not null, "runs" jsonb not null, "throttle" int not null, "array_job_id" text null, "retries" int not null, "counts" jsonb not null, "archived" boolean not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "ended_at" timestamptz null);');
    this.addSql('alter table "sweep" add constraint "sweep_tag_unique" unique ("tag");');
    this.addSql('create index "sweep_project_id_archived_id_index" on "sweep" ("project_id", "archived", "id");');
    this.addSql('create index "sweep_archived_id_index" on "sweep" ("archived", "id");');
    this.addSql('create index "sweep_user_id_archived_id_index" on "sweep" ("user_id", "archived", "id");');
    this.addSql('create table "usage_wait" ("days" int not null, "period" int not null, "cluster" text not null, "partition" text not null, "gpu_type" text not null, "wait_s" int not null, "user_id" int not null, "jobs" int not null, constraint "usage_wait_pkey" primary key ("days", "period", "cluster", "partition", "gpu_type", "wait_s", "user_id"));');
    this.addSql('create table "usage_week" ("week" int not null, "cluster" text not null, "project_id" int not null, "gpu_type" text not null, "state" text not null, "user_id" int not null, "jobs" int not null, "gpu_ms" bigint not null, constraint "usage_week_pkey" primary key ("week", "cluster", "project_id", "gpu_type", "state", "user_id"));');
    this.addSql('create table "user_account" ("id" serial primary key, "name" text not null, "admin" boolean not null, "created_at" timestamptz not null);');
    this.addSql('alter table "user_account" add constraint "user_account_name_unique" unique ("name");');
    // The first user, who owns what the single-user server had (an admin; SQLite's Migration20261206010000).
    this.addSql("insert into \"user_account\" (\"name\", \"admin\", \"created_at\") values ('owner', true, now());");

    // SQLite has a foreign key here; the entities declare none, so on PostgreSQL, whose schema comparison reads foreign
    // keys, a trigger does the same.
    for (const sql of trigger('api_token_after_delete', 'after delete', 'api_token', 'delete from "push_subscription" where "token_id" = old."id";')) this.addSql(sql);

    this.addSql(
      'create function "job_usage_columns"() returns trigger language plpgsql as $$ begin ' +
        `new."gpu_count" := greatest(coalesce(${settingsInteger('gpusPerNode')}, 0), 0) * greatest(coalesce(${settingsInteger('nodes')}, 1), 1); ` +
        `new."gpu_type" := case when coalesce(${settingsInteger('gpusPerNode')}, 0) > 0 then coalesce(nullif(new."input" ->> 'gpuType', ''), 'any') end; ` +
        `new."slurm_partition" := nullif(new."input" ->> 'partition', ''); ` +
        'return new; end $$;',
    );
    this.addSql('create trigger "job_usage_columns" before insert or update of "input" on "job" for each row execute function "job_usage_columns"();');

    this.addSql('create table "job_search" ("job_id" int primary key references "job" ("id") on delete cascade, "document" tsvector not null);');
    this.addSql('create index "job_search_document_index" on "job_search" using gin ("document");');
    for (const sql of trigger('job_search_after_write', 'after insert or update of "name", "description"', 'job', `insert into "job_search" ("job_id", "document") values (new."id", ${searchDocument('new')}) on conflict ("job_id") do update set "document" = excluded."document";`)) this.addSql(sql);

    for (const sql of [
      ...trigger('job_rollup_after_insert', 'after insert', 'job', `${both(ours('new'), 1)} ${both(sacctOf('new', 'new."id"'), -1)}`),
      ...trigger('job_rollup_after_delete', 'after delete', 'job', `${both(ours('old'), -1)} ${both(sacctOf('old'), 1)}`),
      // Not `after update of <columns>`: PostgreSQL fires that only for columns the UPDATE sets, and job_usage_columns
      // changes gpu_count, gpu_type and slurm_partition before the row is written; compared instead.
      ...trigger(
        'job_rollup_after_update',
        `after update`,
        'job',
        `${both(ours('old'), -1)} ${both(ours('new'), 1)} ` +
          `${both({ ...sacctOf('old'), when: `(${keyChanged}) and ${sacctOf('old').when}` }, 1)} ${both({ ...sacctOf('new', 'new."id"'), when: `(${keyChanged}) and ${sacctOf('new', 'new."id"').when}` }, -1)}`,
        changed(COUNTED),
      ),
      ...trigger('sacct_job_rollup_after_insert', 'after insert', 'sacct_job', both(sacctRow('new'), 1)),
      ...trigger('sacct_job_rollup_after_delete', 'after delete', 'sacct_job', both(sacctRow('old'), -1)),
      ...trigger('sacct_job_rollup_after_update', 'after update', 'sacct_job', `${both(sacctRow('old'), -1)} ${both(sacctRow('new'), 1)}`, changed(SACCT_COUNTED)),
    ]) this.addSql(sql);
  }

}
