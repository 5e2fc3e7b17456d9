import { dirname } from 'node:path';
import { MikroORM, SqliteDriver, type DriverException } from '@mikro-orm/sqlite';
import { DatabaseFileError } from '../errors.js';
import { ormConfig } from './orm-config.js';

export type Orm = MikroORM;

/** How much of a failed statement its error keeps, beside the database's own words. */
const STATEMENT_SHOWN = 300;

/**
 * The database's own words for a failure ("SQLITE_FULL: database or disk is full"): knex writes the whole statement,
 * values inlined, in front of them.
 */
export function databaseReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const at = typeof code === 'string' ? message.lastIndexOf(`${code}: `) : -1;
  return at >= 0 ? message.slice(at) : message;
}

/**
 * Every failed statement's error is logged (Yoga logs each error it masks), and its statement holds the values: a
 * 50 kB search, a whole script. Its start names the statement, the database's words say what went wrong.
 */
class SqliteDriverWithShortErrors extends SqliteDriver {
  override convertException(exception: Error): DriverException {
    const converted = super.convertException(exception);
    const whole = converted.message;
    const reason = databaseReason(converted);
    const end = reason.length < whole.length ? reason : whole.slice(-200);
    const leftOut = whole.length - STATEMENT_SHOWN - end.length;
    if (leftOut > 100) {
      converted.message = `${whole.slice(0, STATEMENT_SHOWN)} … (${leftOut} characters left out) … ${end}`;
      converted.stack = converted.stack?.replace(whole, converted.message);
    }
    return converted;
  }
}

/** Why a database file cannot be used, in words that say what to do; null for other failures. */
function unusable(dbName: string, error: unknown): DatabaseFileError | null {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = databaseReason(error);
  const dir = dirname(dbName);
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new DatabaseFileError(
        dbName,
        `not a usable SQLite database (${reason}); stop the server and copy your latest backup over it (\`npm run backup\` keeps them in ${dir}/backups/), or move the file away to start with an empty database`,
      );
    case 'SQLITE_FULL':
    case 'ENOSPC':
      return new DatabaseFileError(dbName, `cannot be written (${reason}): free space on the disk of ${dir}`);
    case 'EEXIST':
    case 'ENOTDIR':
      return new DatabaseFileError(dbName, `cannot be created (${reason}): ${dir} must be a directory; choose another one with --data-dir (MC_DATA_DIR)`);
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new DatabaseFileError(
        dbName,
        `cannot be written (${reason}): the server writes the database and its -wal and -shm files in the directory ${dir}; give its user write access there, or choose another directory with --data-dir (MC_DATA_DIR)`,
      );
    default:
      return null;
  }
}

/**
 * A committed write that changes nothing: the header's user_version set to its own value. SQLite takes the write
 * lock, writes the page and commits it to the WAL, so this fails as a real write would (a read-only file or
 * directory, a full disk, another process holding the lock past busy_timeout). At start and in GET /healthz.
 */
export async function proveWritable(orm: Orm): Promise<void> {
  const connection = orm.em.getConnection();
  const [header] = await connection.execute<Array<{ user_version: number }>>('pragma user_version');
  await connection.execute(`pragma user_version = ${Number(header?.user_version ?? 0)}`);
}

/**
 * Opens the database (a file path or ':memory:') and applies pending migrations before anything reads it. A file that
 * is damaged or cannot be written is refused here with a DatabaseFileError naming it: a server that started on it
 * would fail every request instead.
 */
export async function initOrm(dbName: string): Promise<Orm> {
  let orm: Orm | undefined;
  try {
    orm = await MikroORM.init({ ...ormConfig(dbName), driver: SqliteDriverWithShortErrors });
    const connection = orm.em.getConnection();
    // Garbage past the first pages passes the open and the migrations, and fails later reads; quick_check reads every page.
    const [check] = await connection.execute<Array<{ quick_check: string }>>('pragma quick_check(1)');
    if (check?.quick_check !== 'ok') {
      const answer = check?.quick_check.replace(/\s*\n\s*/g, '; ') ?? 'no answer to quick_check';
      // FTS5 checks its index (the job search's) by writing: on a file it cannot write, that is all it can tell.
      if (answer.endsWith(': attempt to write a readonly database')) throw Object.assign(new Error('SQLITE_READONLY: attempt to write a readonly database'), { code: 'SQLITE_READONLY' });
      throw Object.assign(new Error(`SQLITE_CORRUPT: ${answer}`), { code: 'SQLITE_CORRUPT' });
    }
    await orm.getMigrator().up();
    // With nothing to migrate nothing was written yet: prove the file can be, before a request finds out.
    await proveWritable(orm);
    return orm;
  } catch (error) {
    await orm?.close().catch(() => undefined);
    throw unusable(dbName, error) ?? error;
  }
}
