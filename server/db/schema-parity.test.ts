// The two engines' migrations kept in step (issue 21): SQLite's (migrations/sqlite, the embedded default) and
// PostgreSQL's (migrations/postgresql, the group server) must build the same tables, columns, keys and indexes, each
// match the entities, and carry the same list of migrations from the PostgreSQL baseline on. That the triggers agree
// (rollups, search, the job's GPU columns) is shown by the behaviour suites, which run on both engines.
import { DatabaseSchema } from '@mikro-orm/knex';
import { describe, expect, it, vi } from 'vitest';
import { migrationsList as postgresqlMigrations } from '../../migrations/postgresql/index.js';
import { migrationsList as sqliteMigrations } from '../../migrations/sqlite/index.js';
import { testEngine } from '../../test/database-engine.js';
import type { Orm } from './orm.js';

/** A schema as both engines can say it: a column's kind is the JavaScript type its values map to. */
async function shape(orm: Orm) {
  const schema = await DatabaseSchema.create(orm.em.getConnection(), orm.em.getPlatform(), orm.config, undefined, undefined, undefined, [/^job_search($|_)/, 'mikro_orm_migrations']);
  const tables = schema.getTables().filter((table) => !/^(sqlite_|job_search)/.test(table.name));
  // SQLite keeps booleans as integers; the entities say which columns are booleans, on both engines.
  const booleans = new Set(
    Object.values(orm.getMetadata().getAll()).flatMap((meta) => Object.values(meta.properties).filter((property) => property.runtimeType === 'boolean').map((property) => `${meta.tableName}.${property.fieldNames[0]}`)),
  );
  return Object.fromEntries(
    tables
      .map((table) => {
        const columns = Object.fromEntries(
          table.getColumns().map((column) => {
            const kind = booleans.has(`${table.name}.${column.name}`) ? 'boolean' : column.mappedType.runtimeType;
            return [column.name, { nullable: !!column.nullable, kind, bigint: /bigint|int8/.test(column.type) }];
          }),
        );
        const indexes = Object.fromEntries(
          table
            .getIndexes()
            .map((index) => [index.keyName.replace(/_pkey$/, '_primary').replace(/^primary$/, `${table.name}_primary`), { columns: index.columnNames, unique: !!index.unique, primary: !!index.primary }]),
        );
        return [table.name, { columns, indexes }] as const;
      })
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

describe.skipIf(testEngine !== 'postgresql')('the SQLite and PostgreSQL migrations', () => {
  it('build the same schema, each matching the entities', async () => {
    // The real initOrm: on this run the suites' own is turned to PostgreSQL (test/postgres-setup.ts).
    const real = await vi.importActual<typeof import('./orm.js')>('./orm.js');
    const { initOrm } = await import('./orm.js');
    const sqlite = await real.initOrm(':memory:');
    const postgresql = await initOrm(':memory:');
    try {
      for (const orm of [sqlite, postgresql]) expect(await orm.getMigrator().checkMigrationNeeded()).toBe(false);
      const [a, b] = [await shape(sqlite), await shape(postgresql)];
      expect(Object.keys(b)).toEqual(Object.keys(a));
      for (const table of Object.keys(a)) expect(b[table], table).toEqual(a[table]);
    } finally {
      await sqlite.close();
      await postgresql.close();
    }
  });

  it('have the same names from the PostgreSQL baseline on', () => {
    const baseline = postgresqlMigrations[0]!.name;
    expect(sqliteMigrations.map((migration) => migration.name)).toContain(baseline);
    expect(postgresqlMigrations.map((migration) => migration.name)).toEqual(sqliteMigrations.map((migration) => migration.name).filter((name) => name >= baseline));
  });
});
