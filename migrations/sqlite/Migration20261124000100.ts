import { Migration } from '@mikro-orm/migrations';

export class Migration20261124000100 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create table `push_subscription` (`id` integer not null primary key autoincrement, `endpoint` text not null, `p256dh` text not null, `auth` text not null, `pending_after_minutes` integer null, `muted_project_ids` json not null, `created_at` datetime not null, `updated_at` datetime not null, `last_success_at` datetime null, `last_failure_at` datetime null, `last_error` text null);',
    );
    this.addSql('create unique index `push_subscription_endpoint_unique` on `push_subscription` (`endpoint`);');
    this.addSql('create table `push_notice` (`key` text not null, `created_at` datetime not null, primary key (`key`));');
    this.addSql('create table `server_setting` (`key` text not null, `value` text not null, `created_at` datetime not null, primary key (`key`));');
    // Jobs that ended before notifications existed count as announced: a later change to one of them (archiving
    // it, say) must not send its end as news.
    this.addSql(
      "insert into `push_notice` (`key`, `created_at`) select 'job-end:' || `id`, " +
        "cast(strftime('%s', 'now') as integer) * 1000 from `job` where `state` in ('SUBMIT_FAILED', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED');",
    );
  }
}
