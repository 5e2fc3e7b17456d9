import { Migration } from '@mikro-orm/migrations';

// A push when a job that waited long finally starts (issue 17): each device chooses how long a wait is worth it;
// off (null) by default, also for the devices subscribed before.
export class Migration20261205051710 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `push_subscription` add column `started_after_wait_minutes` integer null;');
  }

}
