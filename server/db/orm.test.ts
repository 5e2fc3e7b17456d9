import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { migrationsList } from '../../migrations/index.js';
import { initOrm } from './orm.js';

it('opens a file database in WAL mode with a busy timeout, migrated, and the migrations match the entities', async () => {
  const orm = await initOrm(join(mkdtempSync(join(tmpdir(), 'mc-db-')), 'data', 'mission-control.sqlite'));
  try {
    const connection = orm.em.getConnection();
    expect(await connection.execute('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await connection.execute('pragma busy_timeout')).toEqual([{ timeout: 5000 }]);
    expect(await connection.execute('pragma foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    const migrator = orm.getMigrator();
    expect((await migrator.getExecutedMigrations()).map((migration) => migration.name)).toEqual(migrationsList.map((migration) => migration.name));
    expect(await migrator.getPendingMigrations()).toEqual([]);
    // A changed entity without a new migration fails here.
    expect(await migrator.checkMigrationNeeded()).toBe(false);
  } finally {
    await orm.close();
  }
});
