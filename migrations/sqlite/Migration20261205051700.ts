import { Migration } from '@mikro-orm/migrations';

// When a pending job will start (issue 17): the scheduler's expected start, read from the squeue line the poll
// already gets; null for every job until SLURM gives one.
export class Migration20261205051700 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `job` add column `estimated_start_at` datetime null;');
  }

}
