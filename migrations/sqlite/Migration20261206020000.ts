import { Migration } from '@mikro-orm/migrations';

// Issue 21, each user's own cluster login: the daily sacct read runs over each login, so where it stands is kept per
// (cluster, user). The reads so far were the config's login's, which is the first admin's. SQLite changes a primary
// key by rebuilding the table.
export class Migration20261206020000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table "sacct_read_per_login" ("cluster" text not null, "user_id" integer not null, "since" datetime null, "read_at" datetime null, "attempted_at" datetime not null, "jobs" integer not null, "error" text null, primary key ("cluster", "user_id"));');
    this.addSql('insert into "sacct_read_per_login" select "cluster", (select min("id") from "user_account" where "admin"), "since", "read_at", "attempted_at", "jobs", "error" from "sacct_read";');
    this.addSql('drop table "sacct_read";');
    this.addSql('alter table "sacct_read_per_login" rename to "sacct_read";');
  }

}
