import { Migration } from '@mikro-orm/migrations';

// A job requeued by scontrol (its own script at its time limit, preemption, an admin) keeps its SLURM id: how many
// times, and each run that ended so (issue 17, part 3). Jobs from before had none.
export class Migration20261205060000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `job` add column `restarts` integer not null default 0;');
    this.addSql("alter table `job` add column `requeues` json not null default '[]';");
  }

}
