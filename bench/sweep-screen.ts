// The sweep screen at 1,000 tasks: time to first render in Chromium (phone size, as is and with the CPU slowed 4×
// as Lighthouse's mobile profile does), frame times while scrolling the whole table, and the `sweep` query's
// latency (p50/p99) with the app's own document. The server is the real one on the lab with a 1,000-run ended sweep
// written to its database (test/browser/seed-sweep.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { Bench, Figure } from './bench.js';
import { kB, percentile } from './bench.js';
import { buildApp, launchPhone } from '../test/browser/browser-env.js';
import { seedEndedSweep } from '../test/browser/seed-sweep.js';
import { startLabServer } from './lab-server.js';

const TASKS = 1000;
const LOADS = 7;
const QUERIES = 200;
const FIRST_RENDER_GOAL_MS = 1000;
const FRAME_GOAL_MS = 33;
const QUERY_P99_GOAL_MS = 250;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ms = (value: number) => `${Math.round(value)} ms`;

// Runs in the page before the app: when the sweep's answer arrived, and when its first rows were drawn.
const PROBE = `
  (() => {
    const marks = (window.__sweepMarks = {});
    const fetchOriginal = window.fetch;
    window.fetch = async (...args) => {
      const body = args[1] && typeof args[1].body === 'string' ? args[1].body : '';
      const response = await fetchOriginal(...args);
      // When the answer's headers arrived (its 220 kB body follows within a few ms on loopback).
      if (body.includes('query Sweep(') && marks.answered === undefined) marks.answered = performance.now();
      return response;
    };
    new MutationObserver((_, observer) => {
      if (document.querySelector('.sweep-body [role="row"]')) {
        marks.rows = document.querySelectorAll('.sweep-body [role="row"]').length;
        requestAnimationFrame(() => { marks.rendered = performance.now(); });
        marks.inserted = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  })();
`;

interface Marks {
  answered?: number;
  inserted?: number;
  rendered?: number;
  rows?: number;
}

const bench: Bench = {
  title: 'Sweep screen at 1,000 tasks',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-sweep-'));
    const dist = join(dir, 'dist');
    buildApp(dist);
    const server = await startLabServer({ staticDir: dist });
    const sweepId = await seedEndedSweep(server.running.services, server.projectId, TASKS);
    const context = await launchPhone(join(dir, 'profile'));
    const loads: Record<string, Array<Required<Marks>>> = { 'as is': [], 'CPU 4× slower': [] };
    let frames: number[] = [];
    const latencies: number[] = [];
    let answerBytes = 0;
    try {
      await context.addInitScript(PROBE);
      for (const [profile, rate] of [['as is', 1], ['CPU 4× slower', 4]] as const) {
        for (let load = 0; load < LOADS; load++) {
          const page = await context.newPage();
          const cdp = await context.newCDPSession(page);
          await cdp.send('Emulation.setCPUThrottlingRate', { rate });
          await page.goto(`${server.url}/sweeps/${sweepId}`);
          await page.waitForFunction(() => (window as unknown as { __sweepMarks: Marks }).__sweepMarks.rendered !== undefined, undefined, { timeout: 60_000 });
          const marks = await page.evaluate(() => (window as unknown as { __sweepMarks: Marks }).__sweepMarks);
          // The first load fills the HTTP cache and compiles the screen's chunk: a phone opening it again is the usual case.
          if (load > 0) loads[profile]!.push(marks as Required<Marks>);
          if (profile === 'as is' && load === LOADS - 1) {
            // Scroll the whole table, one viewport and a half per frame, timing each frame.
            frames = await page.evaluate(async () => {
              const times: number[] = [];
              let last = performance.now();
              while (window.scrollY + window.innerHeight < document.body.scrollHeight - 2) {
                window.scrollBy(0, window.innerHeight * 1.5);
                await new Promise((resolve) => requestAnimationFrame(resolve));
                const now = performance.now();
                times.push(now - last);
                last = now;
              }
              return times;
            });
          }
          await page.close();
        }
      }

      // The sweep query as the app sends it (its module declares the document; graphql-ws wants a WebSocket then).
      (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
      const clientModule = '../client/src/api/client.ts';
      const { declaredDocuments } = (await import(clientModule)) as { declaredDocuments: () => string[] };
      await import('../client/src/api/sweeps.ts' as string);
      const sweepDocument = declaredDocuments().find((text) => text.includes('query Sweep('))!;
      for (let query = 0; query < QUERIES; query++) {
        const began = performance.now();
        const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: sweepDocument, variables: { id: sweepId } }) });
        const text = await response.text();
        latencies.push(performance.now() - began);
        answerBytes = text.length;
        if (!text.includes('"QuerySweepSuccess"')) throw new Error(`sweep query failed: ${text.slice(0, 200)}`);
      }
    } finally {
      await context.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }

    const figures: Figure[] = [];
    const rows: Array<Array<string | number>> = [];
    for (const [profile, marks] of Object.entries(loads)) {
      const firstRender = median(marks.map((mark) => mark.rendered));
      const afterAnswer = median(marks.map((mark) => mark.rendered - mark.answered));
      figures.push({ label: `first render of the table, from navigation (${profile}, median of ${marks.length})`, value: ms(firstRender), goal: profile === 'as is' ? `≤ ${ms(FIRST_RENDER_GOAL_MS)}` : undefined, met: profile === 'as is' ? firstRender <= FIRST_RENDER_GOAL_MS : undefined });
      figures.push({ label: `… of which after the answer arrived (${profile})`, value: ms(afterAnswer) });
      for (const mark of marks) rows.push([profile, ms(mark.answered), ms(mark.inserted), ms(mark.rendered), mark.rows]);
    }
    const frameP95 = percentile(frames, 95);
    figures.push({ label: `frame time scrolling all ${TASKS} rows (p95 of ${frames.length} frames)`, value: `${frameP95.toFixed(1)} ms`, goal: `≤ ${FRAME_GOAL_MS} ms`, met: frameP95 <= FRAME_GOAL_MS });
    figures.push({ label: 'rows drawn at once', value: String(loads['as is']![0]?.rows ?? 0), goal: `< ${TASKS}`, met: (loads['as is']![0]?.rows ?? TASKS) < TASKS });
    figures.push({ label: `sweep query p50 / p99 (${QUERIES} sequential)`, value: `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)} ms`, goal: `p99 ≤ ${QUERY_P99_GOAL_MS} ms`, met: percentile(latencies, 99) <= QUERY_P99_GOAL_MS });
    figures.push({ label: 'sweep answer size', value: kB(answerBytes) });
    return {
      figures,
      tables: [{ columns: ['profile', 'answer arrived', 'rows inserted', 'first frame with rows', 'rows drawn'], rows }],
      notes: [
        `Debian Chromium (playwright-core), 390×844 at 2× as the browser suites; a warm HTTP cache (the first of ${LOADS} loads per profile is not counted); times from navigation start, read in the page (performance.now()); "first frame" is the requestAnimationFrame after the rows were inserted.`,
        'The CPU slowdown is CDP Emulation.setCPUThrottlingRate; the network is loopback.',
      ],
    };
  },
};

export default bench;
