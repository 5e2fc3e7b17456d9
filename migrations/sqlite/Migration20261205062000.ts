import { Migration } from '@mikro-orm/migrations';

// When a running job reaches its time limit, as SLURM's queue says (start + limit, or the partition's DefaultTime):
// the warning push 15 minutes before it (issue 17, part 3).
export class Migration20261205062000 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table `job` add column `time_limit_at` datetime null;');
  }

}
