import { Migration } from '@mikro-orm/migrations';

// Pushes of issue 17, part 3, per device: a job requeued (on, as job ends are) and a job without resume reaching its
// time limit in 15 minutes (off unless asked), also for the devices subscribed before.
export class Migration20261205061000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `push_subscription` add column `requeue_pushes` integer not null default true;');
    this.addSql('alter table `push_subscription` add column `time_limit_pushes` integer not null default false;');
  }

}
