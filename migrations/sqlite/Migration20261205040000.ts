import { Migration } from '@mikro-orm/migrations';

// A summary of each training-curve series kept at write time (issue 16): a chart of a long series is drawn from at
// most ~1,000 spans instead of every stored point. Series stored before it are summarised when first read or written.
export class Migration20261205040000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create table `metric_bucket` (`job_id` integer not null, `name` text not null, `k` integer not null, `exponent` integer not null, `count` integer not null, `points` text not null, primary key (`job_id`, `name`, `k`));');
  }

}
