import { Migration } from '@mikro-orm/migrations';

// Push devices belong to the token that registered them (issue 12): revoking a token deletes its devices, in the
// database itself (ON DELETE CASCADE), so a revoke by the token CLI in another process cuts them off as well.
// Devices registered before this migration belonged to an unknown token: with exactly one token they were its own;
// otherwise they stay without one, and keep their notifications, until a token registers them again (Settings).
export class Migration20261204000000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table \`push_subscription\` add column \`token_id\` integer null references \`api_token\` (\`id\`) on delete cascade;`);
    this.addSql(`create index \`push_subscription_token_id_index\` on \`push_subscription\` (\`token_id\`);`);
    this.addSql(`update \`push_subscription\` set \`token_id\` = (select min(\`id\`) from \`api_token\`) where (select count(*) from \`api_token\`) = 1;`);
  }

}
