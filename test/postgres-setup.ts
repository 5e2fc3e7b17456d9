// The suites' PostgreSQL run (vitest's *-postgresql projects; CI runs both engines): every database a test opens
// through initOrm — ':memory:' or a data directory's SQLite file — is a PostgreSQL database instead
// (test/database-engine.ts), so the same tests hold the same code to the same answers on both engines.
import { afterAll, beforeEach, vi } from 'vitest';
import { dropTestDatabases, testDatabase } from './database-engine.js';

vi.mock('../server/db/orm.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../server/db/orm.js')>();
  return { ...real, initOrm: async (target: string) => real.initOrm(await testDatabase(target, real.initOrm)) };
});

afterAll(dropTestDatabases);

declare module 'vitest' {
  interface TaskMeta {
    engine?: 'postgresql';
  }
}
// Read by .ci/summarize.mjs, which counts this run's tests apart from the same files' SQLite run.
beforeEach(({ task }) => {
  task.meta.engine = 'postgresql';
});
