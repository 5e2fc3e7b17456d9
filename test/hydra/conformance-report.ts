// How many real primaries our Hydra reader composes exactly as Hydra 1.3.2 does: every top-level .yaml of every app in
// ../shared/fixtures/hydra and of test/fixtures/ml-project/conf, composed by real Hydra (test/hydra/oracle.ts) and by
// readHydraConfig, compared on the group choices and on every leaf value (Hydra's own `hydra` node aside).
// A script, not a test: `node --import tsx test/hydra/conformance-report.ts` prints a table and the count.
import { relative } from 'node:path';
import { readHydraConfig, type HydraConfig } from '../../server/projects/hydra/config.js';
import { apps, compare, FIXTURES, oneLine, primariesOf, REPO } from './conformance.js';
import { available, HydraOracle } from './oracle.js';

const MAX_DIFFERENCES = 4;

interface Row {
  primary: string;
  hydra: string;
  ours: string;
  exact: boolean;
  notes: string[];
}

async function main(): Promise<void> {
  const state = available();
  if (!state.ok) {
    console.error(`conformance report skipped: ${state.reason}`);
    process.exit(2);
  }
  const oracle = new HydraOracle();
  const rows: Row[] = [];
  for (const app of apps()) {
    for (const primary of primariesOf(app.configDir)) {
      const label = `${app.name}: ${primary ?? '(no config_name)'}`;
      const hydra = await oracle.compose({ configDir: app.configDir, configName: primary, sysPath: [app.repo], entry: app.entry, versionBase: app.versionBase });
      let ours: HydraConfig | Error;
      try {
        ours = await readHydraConfig(app.repo, primary);
      } catch (error) {
        ours = error as Error;
      }
      const verdict = compare(hydra, ours, app.configDir);
      const notes = verdict.notes.length > MAX_DIFFERENCES ? [...verdict.notes.slice(0, MAX_DIFFERENCES), `… ${verdict.notes.length} differences in all`] : verdict.notes;
      const row: Row = {
        primary: label,
        hydra: hydra.ok ? 'ok' : `error: ${oneLine(hydra.error)}`,
        ours: ours instanceof Error ? `error: ${oneLine(ours.message)}` : 'ok',
        exact: verdict.exact,
        notes: [...notes, ...verdict.notCounted.map((note) => `(not counted) ${note}`)],
      };
      rows.push(row);
    }
  }
  await oracle.close();

  for (const row of rows) {
    console.log(`\n${row.exact ? 'MATCH   ' : 'MISMATCH'} ${row.primary}`);
    console.log(`  Hydra: ${row.hydra}`);
    console.log(`  ours:  ${row.ours}`);
    for (const note of row.notes) console.log(`    - ${note}`);
  }
  const exact = rows.filter((row) => row.exact).length;
  console.log(`\n${exact} of ${rows.length} primaries compose exactly as Hydra composes them (fixtures: ${relative(REPO, FIXTURES)}, test/fixtures/ml-project).`);
  process.exit(0);
}

await main();
