import { Migration } from '@mikro-orm/migrations';

// API tokens (issue 6, Access): only a hash of each token is stored.
export class Migration20261124000200 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`api_token\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`token_hash\` text not null, \`read_only\` integer not null, \`created_at\` datetime not null, \`last_used_at\` datetime null);`);
    this.addSql(`create unique index \`api_token_name_unique\` on \`api_token\` (\`name\`);`);
    this.addSql(`create unique index \`api_token_token_hash_unique\` on \`api_token\` (\`token_hash\`);`);
  }

}
