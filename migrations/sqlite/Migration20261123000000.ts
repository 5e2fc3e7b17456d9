import { Migration } from '@mikro-orm/migrations';

export class Migration20261123000000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create table `cluster_check` (`cluster` text not null, `reachable` integer not null, `latency_ms` integer null, `slurm_version` text null, `partitions` json not null, `error` text null, `checked_at` datetime not null, primary key (`cluster`));',
    );
  }
}
