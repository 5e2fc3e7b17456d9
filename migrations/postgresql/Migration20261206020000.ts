import { Migration } from '@mikro-orm/migrations';

// Issue 21, each user's own cluster login: the daily sacct read runs over each login, so where it stands is kept per
// (cluster, user). The reads so far were the config's login's, which is the first admin's (SQLite's twin).
export class Migration20261206020000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table "sacct_read" add column "user_id" int null;');
    this.addSql('update "sacct_read" set "user_id" = (select min("id") from "user_account" where "admin");');
    this.addSql('alter table "sacct_read" alter column "user_id" set not null;');
    this.addSql('alter table "sacct_read" drop constraint "sacct_read_pkey";');
    this.addSql('alter table "sacct_read" add constraint "sacct_read_pkey" primary key ("cluster", "user_id");');
  }

}
