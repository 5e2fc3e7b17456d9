import { Migration } from '@mikro-orm/migrations';

export class Migration20261123213838 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table \`job\` (\`id\` integer not null primary key autoincrement, \`tag\` text not null, \`project_id\` integer not null, \`parent_id\` integer null, \`cluster\` text not null, \`name\` text not null, \`description\` text not null, \`commit_sha\` text not null, \`branch\` text null, \`input\` json not null, \`script\` text not null, \`job_dir\` text not null, \`slurm_job_id\` text null, \`state\` text not null, \`slurm_state\` text null, \`reason\` text null, \`exit_code\` integer null, \`signal\` integer null, \`node_list\` text null, \`submit_error\` text null, \`wandb_url\` text null, \`archived\` integer not null, \`created_at\` datetime not null, \`updated_at\` datetime not null, \`submitted_at\` datetime null, \`started_at\` datetime null, \`ended_at\` datetime null, \`elapsed_seconds\` integer null, \`last_seen_at\` datetime null);`);
    this.addSql(`create unique index \`job_tag_unique\` on \`job\` (\`tag\`);`);
    this.addSql(`create index \`job_project_id_archived_id_index\` on \`job\` (\`project_id\`, \`archived\`, \`id\`);`);
    this.addSql(`create index \`job_project_id_state_id_index\` on \`job\` (\`project_id\`, \`state\`, \`id\`);`);
    this.addSql(`create index \`job_state_id_index\` on \`job\` (\`state\`, \`id\`);`);
    this.addSql(`create index \`job_cluster_state_index\` on \`job\` (\`cluster\`, \`state\`);`);
    this.addSql(`create index \`job_cluster_slurm_job_id_index\` on \`job\` (\`cluster\`, \`slurm_job_id\`);`);
    this.addSql(`create index \`job_parent_id_index\` on \`job\` (\`parent_id\`);`);

    this.addSql(`create table \`project\` (\`id\` integer not null primary key autoincrement, \`name\` text not null, \`local_path\` text not null, \`origin_url\` text null, \`clone_url\` text null, \`branch\` text null, \`head_sha\` text not null, \`head_subject\` text not null, \`dirty\` integer not null, \`pushed\` integer not null, \`settings\` json not null, \`synced_at\` datetime not null, \`created_at\` datetime not null, \`deleted_at\` datetime null);`);
    this.addSql(`create unique index \`project_local_path_unique\` on \`project\` (\`local_path\`);`);
  }

}
