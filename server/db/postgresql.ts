// The group server's engine (issue 21): PostgreSQL through MikroORM's driver, chosen by a postgres:// URL.
import type { Options } from '@mikro-orm/core';
import { PostgreSqlDriver, type DriverException } from '@mikro-orm/postgresql';
import pg from 'pg';
import { migrationsList } from '../../migrations/postgresql/index.js';
import { DatabaseUnusableError } from '../errors.js';
import { databaseReason, shortened } from './driver-errors.js';
import { sharedOptions } from './orm-config.js';
import type { Orm } from './orm.js';

// Counts and sums (bigint, numeric) and bigint columns as numbers, as SQLite gives them: every one the server reads is
// far below 2^53 (epoch milliseconds, GPU-milliseconds, byte offsets). pg's default is a string, on which `+` joins.
// Set on pg's defaults, which MikroORM's own type overrides (timestamps as strings) fall back to.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, Number);

class PostgreSqlDriverWithShortErrors extends PostgreSqlDriver {
  override convertException(exception: Error): DriverException {
    return shortened(super.convertException(exception));
  }
}

/** Connections each server process keeps at most (a group server's replicas share the database's max_connections). */
const POOL_MAX = 10;

export function options(url: string): Options {
  // ensureDatabase off: a database MikroORM made would have the server's default locale, not the C.UTF-8 the job search
  // and the sort order want; a missing one is refused with the command that makes it right.
  return { ...sharedOptions(migrationsList, 'postgresql'), driver: PostgreSqlDriverWithShortErrors, clientUrl: url, pool: { min: 0, max: POOL_MAX }, ensureDatabase: false };
}

/**
 * The database answers (the server checks its own pages). Asked before the migrator, which would otherwise create a
 * missing database, in the server's default locale.
 */
export async function checkIntegrity(orm: Orm): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}

/** A server that takes no writes (a standby, default_transaction_read_only) is refused as a read-only file is. */
export async function proveWritable(orm: Orm): Promise<void> {
  const [row] = await orm.em.getConnection().execute<Array<{ transaction_read_only: string }>>('show transaction_read_only');
  if (row?.transaction_read_only !== 'off') throw Object.assign(new Error('25006: the database takes no writes (transaction_read_only is on)'), { code: '25006' });
}

/** The URL as it can be shown: without its password. */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the database URL';
  }
}

/** Why the database cannot be used, in words that say what to do; null for other failures. */
export function unusable(url: string, error: unknown): DatabaseUnusableError | null {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = databaseReason(error);
  const say = (message: string) => new DatabaseUnusableError(shownUrl(url), message);
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case '57P03':
      return say(`cannot be reached (${reason}): is PostgreSQL running there, and is the host and port in --database-url (MC_DATABASE_URL) right?`);
    case '28P01':
    case '28000':
      return say(`refused the login (${reason}): check the user and password in --database-url (MC_DATABASE_URL)`);
    case '3D000':
      return say(`has no such database (${reason}): create it first (createdb --locale=C.UTF-8 --template=template0 NAME)`);
    case '42501':
      return say(`refused a change of the schema (${reason}): the server's user must own the database (it applies its migrations at start)`);
    case '25006':
    case '53100':
      return say(`cannot be written (${reason})`);
    default:
      return null;
  }
}
