// `npm run bench [-- name…]`: runs the benchmarks (all, or the named ones) one after the other, prints each
// table, and writes bench/results.json, bench/results.md and the figures section of bench/README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchResult } from './bench.js';
import { formatResult } from './bench.js';

const benches: Record<string, () => Promise<{ default: Bench }>> = {
  poll: () => import('./poll.js'),
  logins: () => import('./logins.js'),
  isolation: () => import('./isolation.js'),
  'job-end': () => import('./job-end.js'),
  gpu: () => import('./gpu.js'),
  fanout: () => import('./fanout.js'),
  'fanout-replicas': async () => ({ default: (await import('./fanout.js')).replicas }),
  handover: () => import('./handover.js'),
  api: () => import('./api.js'),
  'api-postgresql': async () => ({ default: (await import('./api.js')).postgresql }),
  logs: () => import('./logs.js'),
  metrics: () => import('./metrics.js'),
  client: () => import('./client.js'),
  'sweep-screen': () => import('./sweep-screen.js'),
  soak: () => import('./soak.js'),
  'hostile-config': () => import('./hostile-config.js'),
  startup: () => import('./startup.js'),
};

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
}

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
const names = requested.length ? requested : Object.keys(benches);

// A partial run keeps the figures of the benchmarks it did not run.
const resultsFile = here('results.json');
let previous: BenchResult[] = [];
try {
  previous = (JSON.parse(readFileSync(resultsFile, 'utf8')) as { results: BenchResult[] }).results;
} catch {
  previous = [];
}

const startedAt = new Date();
const fresh: BenchResult[] = [];
let failed = false;
for (const name of names) {
  const bench = (await benches[name]!()).default;
  console.log(`\n## ${bench.title}`);
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  try {
    const outcome = await bench.run();
    const load = { before: loadBefore, after: loadavg()[0]! };
    const result: BenchResult = { name, title: bench.title, ranAt: new Date().toISOString(), seconds: Math.round((performance.now() - began) / 100) / 10, machine: machine(), load, ...outcome };
    fresh.push(result);
    console.log(formatResult(result));
  } catch (error) {
    failed = true;
    console.error(`benchmark ${name} failed: ${(error as Error).stack ?? error}`);
  }
}

const results = [...previous.filter((result) => !fresh.some((next) => next.name === result.name)), ...fresh].sort(
  (a, b) => Object.keys(benches).indexOf(a.name) - Object.keys(benches).indexOf(b.name),
);
writeFileSync(resultsFile, `${JSON.stringify({ updatedAt: startedAt.toISOString(), results }, null, 2)}\n`);
const markdown = results.map(formatResult).join('\n\n');
writeFileSync(here('results.md'), `# Benchmark results\n\n${markdown}\n`);

const readmeFile = here('README.md');
const readme = readFileSync(readmeFile, 'utf8');
const section = /(<!-- results:start -->\n)[\s\S]*?(\n<!-- results:end -->)/;
if (section.test(readme)) writeFileSync(readmeFile, readme.replace(section, `$1${markdown}$2`));

console.log(`\nwrote ${resultsFile}, bench/results.md and the figures in bench/README.md`);
process.exit(failed ? 1 : 0);
