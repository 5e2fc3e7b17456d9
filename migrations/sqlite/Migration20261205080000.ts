import { Migration } from '@mikro-orm/migrations';

// Job search through SQLite FTS5 instead of LIKE '%…%' (issue 18, part 2): an index of the words of each job's name
// and description, read by server/jobs/search.ts. External content: the words point at job rows, the text stays in
// `job` only; triggers keep the index in step with every insert, delete and change of those columns. project_id is
// indexed too (as a word) so a search in one project is answered by the index alone, however common its words are
// elsewhere. unicode61 folds case as LIKE does for ASCII; diacritics are kept (LIKE and the app's own list filter
// tell "é" from "e"). Prefix indexes of 1 to 3 characters make a search for the start of a word ("r", "vi") cheap.
export class Migration20261205080000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(
      "create virtual table `job_search` using fts5(`name`, `description`, `project_id`, content = 'job', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0', prefix = '1 2 3');",
    );
    this.addSql(
      'create trigger `job_search_after_insert` after insert on `job` begin insert into `job_search` (rowid, `name`, `description`, `project_id`) values (new.`id`, new.`name`, new.`description`, new.`project_id`); end;',
    );
    this.addSql(
      "create trigger `job_search_after_delete` after delete on `job` begin insert into `job_search` (`job_search`, rowid, `name`, `description`, `project_id`) values ('delete', old.`id`, old.`name`, old.`description`, old.`project_id`); end;",
    );
    this.addSql(
      "create trigger `job_search_after_update` after update of `name`, `description`, `project_id` on `job` begin insert into `job_search` (`job_search`, rowid, `name`, `description`, `project_id`) values ('delete', old.`id`, old.`name`, old.`description`, old.`project_id`); insert into `job_search` (rowid, `name`, `description`, `project_id`) values (new.`id`, new.`name`, new.`description`, new.`project_id`); end;",
    );
    // The jobs stored before this migration.
    this.addSql("insert into `job_search` (`job_search`) values ('rebuild');");
  }

}
