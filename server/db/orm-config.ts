// One place that knows how MikroORM is set up, for either engine; used by the server (initOrm) and by `npm run orm`
// (orm-cli-config.ts).
// The engine is chosen by the database target: a postgres:// URL is PostgreSQL (the group server), anything else a
// SQLite file (or ':memory:'). Each engine's module is loaded only when it is chosen, so the embedded server never
// loads the PostgreSQL client, and the group server never opens SQLite.
import { join } from 'node:path';
import type { Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { ConfigError } from '../errors.js';
import { entities } from './entities.js';
import type { DatabaseKind } from './sql-dialect.js';

export function databaseKind(target: string): DatabaseKind {
  return /^postgres(ql)?:\/\//i.test(target) ? 'postgresql' : 'sqlite';
}

/**
 * The database of a server, or of a CLI beside it: --database-url (MC_DATABASE_URL), a PostgreSQL URL, when given;
 * else the SQLite file in the data directory.
 */
export function databaseTarget(options: { dataDir: string; databaseUrl?: string }): string {
  const { databaseUrl } = options;
  if (databaseUrl === undefined || databaseUrl === '') return join(options.dataDir, 'mission-control.sqlite');
  if (databaseKind(databaseUrl) !== 'postgresql') throw new ConfigError(`--database-url (MC_DATABASE_URL): must be a postgresql:// URL (the embedded SQLite database is the data directory's), not ${JSON.stringify(databaseUrl.replace(/:[^:@/]*@/, ':***@'))}`);
  return databaseUrl;
}

/** The options both engines share; each engine's module adds its driver, connection and migrations. */
export function sharedOptions(migrationsList: NonNullable<Options['migrations']>['migrationsList'], kind: DatabaseKind): Options {
  return {
    entities,
    extensions: [Migrator],
    // One folder of migrations per engine, kept in step (server/db/schema-parity.test.ts): the migrations table holds
    // their names, and each pair has the same name.
    migrations: { migrationsList, path: `migrations/${kind}`, pathTs: `migrations/${kind}`, emit: 'ts', snapshot: false, transactional: true, silent: true },
    // The job search's index is no entity's (SQLite: an FTS5 table and its shadow tables, whose untyped columns the
    // schema comparison cannot read; PostgreSQL: a table of tsvectors): the comparison would drop it.
    schemaGenerator: { skipTables: [/^job_search($|_)/] },
    debug: false,
    allowGlobalContext: false,
  };
}

export async function ormConfig(target: string): Promise<Options> {
  const engine = databaseKind(target) === 'postgresql' ? await import('./postgresql.js') : await import('./sqlite.js');
  return engine.options(target);
}
