import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

// The server's suites run on both engines: as they are on SQLite, and again on PostgreSQL (test/postgres-setup.ts turns
// every database a test opens into a PostgreSQL one). On PostgreSQL when a server is named (MC_TEST_POSTGRES_URL, set
// by `npm run test:all`) and always in CI, where a missing server fails the run.
const postgresUrl = process.env.MC_TEST_POSTGRES_URL ?? (process.env.CI ? 'postgresql://mc:mc@127.0.0.1:5432/postgres' : undefined);
/** Tests of SQLite itself (its files, pragmas, backups, and the upgrade of an earlier release's file). */
const SQLITE_ONLY = ['server/db/orm.test.ts', 'server/db/backup.test.ts', 'server/db/migrations-upgrade.test.ts'];
const onPostgres = (name: string) => ({ name: `${name}-postgresql`, setupFiles: ['test/postgres-setup.ts'], env: { MC_TEST_POSTGRES_URL: postgresUrl!, MC_TEST_ENGINE: 'postgresql' }, exclude: SQLITE_ONLY });
const UNIT = { name: 'unit', environment: 'node', include: ['server/**/*.test.ts', 'schema/**/*.test.ts', 'test/*.test.ts'] };
const LAB = { name: 'lab', environment: 'node', include: ['test/lab/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false };

// One runner, four suites. The client's own Vite config is not loaded here: its PWA and icon steps would run.
export default defineConfig({
  resolve: {
    // graphql ships CJS (main) and ESM (module). Node loads Pothos' and Yoga's `graphql` as CJS; make Vite pick the
    // same file for our code, or the schema mixes two graphql instances ("from another module or realm").
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // One file at a time across all suites: the lab's fault tests stop its daemons, which must not pull the rug
    // from under the browser or other lab suites.
    fileParallelism: false,
    projects: [
      { extends: true, test: UNIT },
      ...(postgresUrl ? [{ extends: true as const, test: { ...UNIT, ...onPostgres('unit') } }] : []),
      {
        extends: true,
        plugins: [solid()],
        test: { name: 'client', environment: 'happy-dom', include: ['client/**/*.test.{ts,tsx}'] },
      },
      {
        extends: true,
        // Real Hydra 1.3.2 (../shared/vendor, Debian's python3 and its packages) as the oracle of the Hydra reader.
        test: { name: 'hydra', environment: 'node', include: ['test/hydra/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 },
      },
      // Talks to the real SLURM lab through the real sshd (npm run lab:up).
      { extends: true, test: LAB },
      ...(postgresUrl ? [{ extends: true as const, test: { ...LAB, ...onPostgres('lab') } }] : []),
      {
        extends: true,
        // The built PWA in Debian's Chromium, served by the real server, showing the lab.
        test: { name: 'browser', environment: 'node', include: ['test/browser/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false },
      },
    ],
  },
});
