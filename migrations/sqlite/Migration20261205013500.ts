import { Migration } from '@mikro-orm/migrations';

// Training-curve pushes (issue 16): each device can turn off the NaN and the idle-GPU notifications (on by default,
// also for the devices subscribed before: they asked for news of their jobs).
export class Migration20261205013500 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `push_subscription` add column `metric_nan_pushes` integer not null default true;');
    this.addSql('alter table `push_subscription` add column `gpu_idle_pushes` integer not null default true;');
  }

}
