import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

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
      {
        extends: true,
        test: { name: 'unit', environment: 'node', include: ['server/**/*.test.ts', 'schema/**/*.test.ts', 'test/*.test.ts'] },
      },
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
      {
        extends: true,
        // Talks to the real SLURM lab through the real sshd (npm run lab:up).
        test: { name: 'lab', environment: 'node', include: ['test/lab/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false },
      },
      {
        extends: true,
        // The built PWA in Debian's Chromium, served by the real server, showing the lab.
        test: { name: 'browser', environment: 'node', include: ['test/browser/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false },
      },
    ],
  },
});
