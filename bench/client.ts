// The phone app's weight and Lighthouse scores: initial JS gzipped (what index.html loads before the first screen
// renders), and Lighthouse 12 mobile performance and accessibility on Home and Job, served by the real server
// with the lab's data (the fixture project and a completed job).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from 'chrome-launcher';
import lighthouse from 'lighthouse';
import type { Bench, Figure } from './bench.js';
import { kB } from './bench.js';
import { buildApp, initialScriptSizes } from '../test/browser/browser-env.js';
import { startLabServer } from './lab-server.js';

const CHROMIUM = process.env.MC_CHROMIUM ?? '/usr/bin/chromium';
const INITIAL_JS_GOAL = 60 * 1024;
const SCORE_GOAL = 0.95;
const RUNS = 5;

// Lighthouse's performance score is made of these; the table shows where a low score comes from.
const METRICS = ['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time', 'cumulative-layout-shift', 'speed-index'];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const bench: Bench = {
  title: 'Client: initial JS and Lighthouse (mobile)',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-client-'));
    const dist = join(dir, 'dist');
    buildApp(dist);
    const sizes = initialScriptSizes(dist);
    const initialJs = sizes.reduce((sum, size) => sum + size.gzip, 0);

    const server = await startLabServer({ staticDir: dist, withCompletedJob: true });
    // Lighthouse's own launcher and its default flags (no background networking, component updates, etc.), as the
    // lighthouse CLI runs Chromium.
    const chromium = await launch({ chromePath: CHROMIUM, chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
    const pages = { Home: server.url, Job: `${server.url}/jobs/${server.jobId}` };
    const scores: Array<[string, number[], number[]]> = [];
    const metrics: Array<Array<string | number>> = [];
    try {
      for (const [name, url] of Object.entries(pages)) {
        const performanceScores: number[] = [];
        const accessibilityScores: number[] = [];
        // Lighthouse's simulated throttling varies from run to run on a shared 2-core machine: the median of five.
        for (let run = 0; run < RUNS; run++) {
          const result = await lighthouse(url, { port: chromium.port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility'] });
          const categories = result!.lhr.categories;
          performanceScores.push(categories.performance!.score ?? 0);
          accessibilityScores.push(categories.accessibility!.score ?? 0);
          const audits = result!.lhr.audits;
          metrics.push([name, run + 1, ...METRICS.map((id) => audits[id]?.displayValue ?? '')]);
          if (run === 0) {
            const failing = Object.values(result!.lhr.audits).filter((audit) => audit.score !== null && audit.score < 1 && result!.lhr.categories.accessibility!.auditRefs.some((ref) => ref.id === audit.id && ref.weight > 0));
            if (failing.length) console.log(`${name}: accessibility audits below 1: ${failing.map((audit) => audit.id).join(', ')}`);
          }
        }
        scores.push([name, performanceScores, accessibilityScores]);
      }
    } finally {
      chromium.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }

    const figures: Figure[] = [{ label: 'initial JS (gzip)', value: kB(initialJs), goal: `≤ ${kB(INITIAL_JS_GOAL)}`, met: initialJs <= INITIAL_JS_GOAL }];
    for (const [name, performanceScores, accessibilityScores] of scores) {
      figures.push({ label: `${name}: performance (median of ${RUNS})`, value: median(performanceScores).toFixed(2), goal: `≥ ${SCORE_GOAL}`, met: median(performanceScores) >= SCORE_GOAL });
      figures.push({ label: `${name}: accessibility`, value: median(accessibilityScores).toFixed(2), goal: `≥ ${SCORE_GOAL}`, met: median(accessibilityScores) >= SCORE_GOAL });
    }
    return {
      figures,
      tables: [
        { columns: ['initial script', 'gzip'], rows: sizes.map((size) => [size.src, kB(size.gzip)]) },
        { columns: ['screen', 'performance runs', 'accessibility runs'], rows: scores.map(([name, p, a]) => [name, p.map((s) => s.toFixed(2)).join(' '), a.map((s) => s.toFixed(2)).join(' ')]) },
        { columns: ['screen', 'run', 'FCP', 'LCP', 'TBT', 'CLS', 'Speed Index'], rows: metrics },
      ],
      notes: [`Lighthouse ${(await import('lighthouse/package.json', { with: { type: 'json' } })).default.version}, Debian Chromium, default mobile config (simulated Moto G Power, slow 4G); gzip at zlib's default level.`],
    };
  },
};

export default bench;
