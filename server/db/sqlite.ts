// The embedded engine: one SQLite file beside the server (the README's first command).
import { dirname } from 'node:path';
import type { Options } from '@mikro-orm/core';
import { SqliteDriver, type DriverException } from '@mikro-orm/sqlite';
import { migrationsList } from '../../migrations/sqlite/index.js';
import { DatabaseUnusableError } from '../errors.js';
import { databaseReason, shortened } from './driver-errors.js';
import { sharedOptions } from './orm-config.js';
import type { Orm } from './orm.js';

interface SqliteConnection {
  exec(sql: string, done: (error: Error | null) => void): void;
}

class SqliteDriverWithShortErrors extends SqliteDriver {
  override convertException(exception: Error): DriverException {
    return shortened(super.convertException(exception));
  }
}

export function options(dbName: string): Options {
  return {
    ...sharedOptions(migrationsList, 'sqlite'),
    driver: SqliteDriverWithShortErrors,
    dbName,
    pool: {
      // Per connection, since MikroORM sets only foreign_keys: WAL lets readers run beside the writer, and
      // busy_timeout makes a second writer (a backup, the CLI) wait instead of failing with SQLITE_BUSY.
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
        connection.exec('pragma journal_mode = wal; pragma busy_timeout = 5000; pragma synchronous = normal; pragma foreign_keys = on;', (error) =>
          done(error, connection),
        );
      },
    },
  };
}

/** Garbage past the first pages passes the open and the migrations, and fails later reads; quick_check reads every page. */
export async function checkIntegrity(orm: Orm): Promise<void> {
  const [check] = await orm.em.getConnection().execute<Array<{ quick_check: string }>>('pragma quick_check(1)');
  if (check?.quick_check === 'ok') return;
  const answer = check?.quick_check.replace(/\s*\n\s*/g, '; ') ?? 'no answer to quick_check';
  // FTS5 checks its index (the job search's) by writing: on a file it cannot write, that is all it can tell.
  if (answer.endsWith(': attempt to write a readonly database')) throw Object.assign(new Error('SQLITE_READONLY: attempt to write a readonly database'), { code: 'SQLITE_READONLY' });
  throw Object.assign(new Error(`SQLITE_CORRUPT: ${answer}`), { code: 'SQLITE_CORRUPT' });
}

/**
 * A committed write that changes nothing: the header's user_version set to its own value. SQLite takes the write
 * lock, writes the page and commits it to the WAL, so this fails as a real write would (a read-only file or
 * directory, a full disk, another process holding the lock past busy_timeout).
 */
export async function proveWritable(orm: Orm): Promise<void> {
  const connection = orm.em.getConnection();
  const [header] = await connection.execute<Array<{ user_version: number }>>('pragma user_version');
  await connection.execute(`pragma user_version = ${Number(header?.user_version ?? 0)}`);
}

/** Why a database file cannot be used, in words that say what to do; null for other failures. */
export function unusable(dbName: string, error: unknown): DatabaseUnusableError | null {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = databaseReason(error);
  const dir = dirname(dbName);
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new DatabaseUnusableError(
        dbName,
        `not a usable SQLite database (${reason}); stop the server and copy your latest backup over it (\`npm run backup\` keeps them in ${dir}/backups/), or move the file away to start with an empty database`,
      );
    case 'SQLITE_FULL':
    case 'ENOSPC':
      return new DatabaseUnusableError(dbName, `cannot be written (${reason}): free space on the disk of ${dir}`);
    case 'EEXIST':
    case 'ENOTDIR':
      return new DatabaseUnusableError(dbName, `cannot be created (${reason}): ${dir} must be a directory; choose another one with --data-dir (MC_DATA_DIR)`);
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new DatabaseUnusableError(
        dbName,
        `cannot be written (${reason}): the server writes the database and its -wal and -shm files in the directory ${dir}; give its user write access there, or choose another directory with --data-dir (MC_DATA_DIR)`,
      );
    default:
      return null;
  }
}
