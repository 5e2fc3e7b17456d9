// Prints one line per suite and the closing "N passed, N failed" line; fails if a suite ran no test, so a
// suite that silently stopped running cannot pass CI.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const suiteOf = (file) =>
  file.includes('/test/lab/')
    ? 'lab end-to-end'
    : file.includes('/test/browser/')
      ? 'browser end-to-end'
      : file.includes('/test/hydra/')
        ? 'real Hydra'
        : file.includes('/client/')
          ? 'client unit'
          : 'server unit';
// The suites that run again on PostgreSQL mark each test they run (test/postgres-setup.ts); a test skipped there is
// counted with its SQLite twin.
const suites = new Map(
  ['server unit', 'server unit (PostgreSQL)', 'client unit', 'real Hydra', 'lab end-to-end', 'lab end-to-end (PostgreSQL)', 'browser end-to-end'].map((name) => [name, { passed: 0, failed: 0, skipped: 0 }]),
);
for (const file of report.testResults) {
  for (const test of file.assertionResults) {
    const counts = suites.get(`${suiteOf(file.name)}${test.meta?.engine === 'postgresql' ? ' (PostgreSQL)' : ''}`);
    if (test.status === 'passed') counts.passed++;
    else if (test.status === 'failed') counts.failed++;
    else counts.skipped++;
  }
}
let total = { passed: 0, failed: 0, skipped: 0 };
let empty = [];
for (const [name, counts] of suites) {
  console.log(`${name.padEnd(28)} ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  if (counts.passed === 0) empty.push(name);
  for (const key of Object.keys(total)) total[key] += counts[key];
}
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
if (empty.length > 0) {
  console.error(`no test passed in: ${empty.join(', ')}`);
  process.exit(1);
}
if (total.failed > 0) process.exit(1);
