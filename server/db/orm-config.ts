// One place that knows how MikroORM is set up; used by the server (initOrm) and by `npm run orm`.
import { defineConfig } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from '../../migrations/index.js';
import { entities } from './entities.js';

interface SqliteConnection {
  exec(sql: string, done: (error: Error | null) => void): void;
}

export function ormConfig(dbName: string) {
  return defineConfig({
    dbName,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, path: 'migrations', pathTs: 'migrations', emit: 'ts', snapshot: false, transactional: true, silent: true },
    pool: {
      // Per connection, since MikroORM sets only foreign_keys: WAL lets readers run beside the writer, and
      // busy_timeout makes a second writer (a backup, the CLI) wait instead of failing with SQLITE_BUSY.
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
        connection.exec('pragma journal_mode = wal; pragma busy_timeout = 5000; pragma synchronous = normal; pragma foreign_keys = on;', (error) =>
          done(error, connection),
        );
      },
    },
    // The job search's FTS5 index and its shadow tables (migrations/Migration20261205080000.ts) are no entity's: the
    // schema comparison cannot read a virtual table's untyped columns, and would drop them.
    schemaGenerator: { skipTables: [/^job_search($|_)/] },
    debug: false,
    allowGlobalContext: false,
  });
}

export default ormConfig(process.env.MC_DB ?? 'data/mission-control.sqlite');
