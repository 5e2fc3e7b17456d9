// Training curves end to end in the built PWA (Debian's Chromium at 360 px): a job's chart grows live as points
// arrive (points written into the server's database and announced as the metrics service does, so the curve is
// known), NaN shown as a gap with its note, GPU charts, the table instead of the chart; a sweep's chart with its
// best run and the table sorted by the metric; two runs compared, and two jobs ticked in the project's list; then a real job of the fixture project on the lab,
// whose progress bar prints `loss=`, charted while it runs. Screenshots (light and dark) go to /work/notes/screens
// (MC_SCREENS to change) and test-results/browser.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';
import { createJobRow } from '../factories.js';
import { lossAt, seedMetricPoints, steps } from './seed-metrics.js';
import { seedEndedSweep } from './seed-sweep.js';

const lab = labForSuite('metrics suite');
const ready = chromiumForSuite('metrics suite') && lab !== null;
const SCREENS = process.env.MC_SCREENS ?? '/work/notes/screens';

describe.skipIf(!ready)('training curves in the app', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let context: BrowserContext;
  let page: Page;
  let sweepId: number;
  /** The seeded sweep's tasks by run index. */
  let tasks: number[];

  const shot = async (name: string) => {
    mkdirSync(SCREENS, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      // The charts take their colours when drawn: give the rebuild on the scheme change a frame.
      await page.waitForTimeout(250);
      const path = join(ARTIFACTS, `metrics-${name}-360-${scheme}.png`);
      await page.screenshot({ path, fullPage: true });
      copyFileSync(path, join(SCREENS, `metrics-${name}-360-${scheme}.png`));
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const points = (testId: string) => page.getByTestId(testId).getAttribute('data-points').then(Number);
  const noSidewaysScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

  beforeAll(async () => {
    app = await startAppServer(lab!, { tokenName: 'metrics-phone', withProject: true });
    ({ context, page } = await pairedPhone(app));
    await page.setViewportSize({ width: 360, height: 740 });

    sweepId = await seedEndedSweep(app.running.services, app.projectId!, 6);
    const { sweep } = await app.request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { runs { index task { id } } } } } }`, { id: sweepId });
    tasks = sweep.data.runs.map((run: { task: { id: number } }) => run.task.id);
    // Run 2 learns best; run 4 diverges: NaN from step 15 on.
    for (const [index, task] of tasks.entries()) {
      const seed = index === 2 ? -1 : index;
      await seedMetricPoints(app.running.services, task, {
        loss: steps(1, 20).map((step) => [step, index === 4 && step >= 15 ? Number.NaN : lossAt(step, seed)]),
        val_loss: steps(5, 20, 5).map((step) => [step, lossAt(step, seed) * 1.1]),
        val_acc: steps(5, 20, 5).map((step) => [step, 0.5 + step / 50 - 0.01 * seed]),
      });
    }
  }, 240_000);
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
  });

  it('draws a job’s curves and grows them live as points arrive, with the values at a tap and a table instead', async () => {
    // A job of its own (a one-run sweep's task), so its later points do not change the sweep below.
    const single = await seedEndedSweep(app.running.services, app.projectId!, 1);
    const { sweep } = await app.request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { runs { task { id } } } } } }`, { id: single });
    const task: number = sweep.data.runs[0].task.id;
    await seedMetricPoints(app.running.services, task, {
      loss: steps(1, 20).map((step) => [step, lossAt(step)]),
      val_loss: steps(5, 20, 5).map((step) => [step, lossAt(step) * 1.1]),
      val_acc: steps(5, 20, 5).map((step) => [step, 0.5 + step / 50]),
    });
    const started = Math.floor(Date.now() / 1000) - 600;
    await seedMetricPoints(app.running.services, task, {
      'gpu0.utilization': steps(0, 9).map((sample) => [started + sample * 30, 80 + sample]),
      'gpu1.utilization': steps(0, 9).map((sample) => [started + sample * 30, 5]),
      'gpu0.memory_used_mib': steps(0, 9).map((sample) => [started + sample * 30, 30_000 + sample * 500]),
      'gpu0.memory_total_mib': steps(0, 9).map((sample) => [started + sample * 30, 81_920]),
    });
    await page.goto(`${app.url}/jobs/${task}`);
    await expect.poll(() => points('chart-Loss').catch(() => 0), { timeout: 15_000 }).toBe(20);
    await page.evaluate(() => ((window as unknown as { sameVisit: boolean }).sameVisit = true));
    // uPlot draws into a canvas: it is there, sized to the card at 360 px.
    const canvas = page.getByTestId('chart-Loss').locator('canvas');
    await expect.poll(() => canvas.count(), { timeout: 10_000 }).toBe(1);
    expect((await canvas.boundingBox())!.width).toBeGreaterThan(250);
    expect(await page.getByTestId('chart-Loss').locator('[role="img"]').getAttribute('aria-label')).toBe(`Loss, steps 1 to 20; last values: loss ${lossAt(20)}, val_loss ${Number((lossAt(20) * 1.1).toPrecision(4))}`);
    expect(await page.getByTestId('last-metrics').locator('[data-metric="loss"] strong').textContent()).toBe(String(lossAt(20)));
    // The picker: val_acc is not a loss, so not charted until picked.
    await expect.poll(() => page.getByTestId('chart-val_acc').count()).toBe(0);
    await page.locator('.metric-picker [data-metric="val_acc"]').click();
    await expect.poll(() => points('chart-val_acc').catch(() => 0), { timeout: 10_000 }).toBe(4);
    // GPUs: utilisation of each, memory in GiB of its total.
    await expect.poll(() => points('chart-gpu-utilization').catch(() => 0)).toBe(10);
    expect(await page.getByTestId('chart-gpu-utilization').locator('.metric-chart-legend [data-series]').allTextContents()).toEqual(['GPU 0 89%', 'GPU 1 5%']);
    expect(await page.getByTestId('chart-gpu-memory').locator('.metric-chart-title').textContent()).toBe('GPU memory (of 80 GiB)');
    await shot('job');

    // New points, announced as the service does: the chart grows without a reload.
    await seedMetricPoints(app.running.services, task, { loss: steps(21, 40).map((step) => [step, lossAt(step)]) });
    await expect.poll(() => points('chart-Loss'), { timeout: 10_000 }).toBe(40);
    expect(await page.evaluate(() => (window as unknown as { sameVisit?: boolean }).sameVisit)).toBe(true);
    await expect.poll(() => page.getByTestId('last-metrics').locator('[data-metric="loss"] strong').textContent()).toBe(String(lossAt(40)));

    // A tap on the chart gives the values at that step.
    // In the middle of the screen: the fixed navigation bar at the bottom must not take the tap.
    await page.getByTestId('chart-Loss').locator('.u-over').evaluate((element) => element.scrollIntoView({ block: 'center' }));
    const box = (await page.getByTestId('chart-Loss').locator('.u-over').boundingBox())!;
    await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => page.getByTestId('chart-Loss').locator('.metric-chart-at').textContent()).toMatch(/^step \d+×$/);
    const tapped = Number(/\d+/.exec((await page.getByTestId('chart-Loss').locator('.metric-chart-at').textContent())!)![0]);
    expect(tapped).toBeGreaterThan(10);
    expect(tapped).toBeLessThan(30);
    expect(await page.getByTestId('chart-Loss').locator('[data-series="loss"] strong').textContent()).toBe(String(lossAt(tapped)));

    // The table alternative: a row per step.
    await page.getByTestId('chart-Loss').getByRole('button', { name: 'Table of Loss' }).click();
    const rows = page.getByTestId('chart-Loss').locator('tbody tr');
    expect(await rows.count()).toBe(40);
    expect(await rows.nth(19).locator('th, td').allTextContents()).toEqual(['20', String(lossAt(20)), String(Number((lossAt(20) * 1.1).toPrecision(4)))]);
    expect(await page.getByTestId('chart-Loss').locator('.metric-chart-plot').isHidden()).toBe(true);
    expect(await noSidewaysScroll()).toBe(true);
    await shot('job-table');
  });

  it('shows NaN as a gap with its marker note', async () => {
    await page.goto(`${app.url}/jobs/${tasks[4]}`);
    await expect.poll(() => points('chart-Loss').catch(() => 0), { timeout: 15_000 }).toBe(20);
    expect(await page.getByTestId('chart-Loss').locator('.metric-chart-note').textContent()).toBe('▼ loss is NaN at step 15 (and 5 more points)');
    expect(await page.getByTestId('last-metrics').locator('[data-metric="loss"]').getAttribute('class')).toContain('metric-bad');
    expect(await page.getByTestId('last-metrics').locator('[data-metric="loss"] strong').textContent()).toBe('NaN');
    await shot('job-nan');
  });

  it('charts a sweep’s metric across its runs, highlights the best and sorts the table by it', async () => {
    await page.goto(`${app.url}/sweeps/${sweepId}`);
    await expect.poll(() => points('sweep-chart').catch(() => 0), { timeout: 15_000 }).toBe(20);
    expect(await page.getByTestId('sweep-metric').inputValue()).toBe('loss');
    await expect.poll(() => page.getByTestId('sweep-best').textContent()).toMatch(/^Best: #2 seed=0 lr=0\.01: [\d.]+ at step \d+$/);
    // The table gains Last and Best, sorted best first; the best row is marked.
    expect(await page.locator('.sweep-head .sort-label').allTextContents()).toEqual(['#', 'seed', 'lr', 'Last', 'Best', 'State', 'Time', 'Exit']);
    // The table is windowed: bring it into view so every row is drawn, then read the drawn rows in order.
    const order = async () => {
      await page.evaluate(() => window.scrollTo(0, document.querySelector('[data-testid="sweep-table"]')!.getBoundingClientRect().top + window.scrollY - 120));
      await page.waitForTimeout(100);
      return readOrder();
    };
    const readOrder = () => page.locator('.sweep-body [role="row"]').evaluateAll((elements) => elements.map((element) => element.getAttribute('data-index')));
    expect(await order()).toEqual(['0', '1', '2', '3', '4', '5']);
    // Run 4's loss went NaN at step 15: its best is from before, its last is no number.
    await page.locator('.sweep-head').getByRole('button', { name: 'Best' }).click();
    await expect.poll(order).toEqual(['2', '0', '1', '3', '5', '4']);
    expect(await page.locator('.sweep-body [data-best]').getAttribute('data-index')).toBe('2');
    expect(await page.locator('.sweep-body [data-index="4"] .cell-last').textContent()).toBe('—');
    // Another metric, better higher: the best is the highest.
    await page.getByTestId('sweep-metric').selectOption('val_acc');
    await expect.poll(() => page.getByTestId('sweep-direction').textContent()).toMatch(/^Best is highest/);
    await expect.poll(() => page.getByTestId('sweep-best').textContent()).toMatch(/^Best: #2 seed=0 lr=0\.01: 0\.91 at step 20$/);
    await expect.poll(order).toEqual(['2', '0', '1', '3', '4', '5']);
    await page.getByTestId('sweep-direction').click();
    await expect.poll(() => page.getByTestId('sweep-best').textContent()).toMatch(/^Best: #5 seed=0 lr=3e-4: 0\.55 at step 5$/);
    await expect.poll(order).toEqual(['5', '4', '3', '1', '0', '2']);
    await page.getByTestId('sweep-metric').selectOption('loss');
    await expect.poll(order).toEqual(['2', '0', '1', '3', '5', '4']);
    expect(await noSidewaysScroll()).toBe(true);
    await shot('sweep');
  });

  it('compares two runs: overlaid curves and the settings that differ', async () => {
    await page.getByTestId('compare-mode').click();
    await page.getByRole('checkbox', { name: 'Compare run 2' }).check();
    await page.getByRole('checkbox', { name: 'Compare run 4' }).check();
    await page.getByTestId('compare-open').click();
    await expect.poll(() => new URL(page.url()).search).toBe(`?jobs=${tasks[2]},${tasks[4]}`);
    await expect.poll(() => points('compare-chart').catch(() => 0), { timeout: 15_000 }).toBe(20);
    expect(await page.getByTestId('compare-chart').locator('.metric-chart-legend [data-series]').count()).toBe(2);
    const rows = page.getByTestId('compare-config').locator('tbody tr');
    expect(await rows.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-key')))).toEqual(['lr']);
    expect(await rows.first().locator('td').allTextContents()).toEqual(['0.01', '0.001']);
    expect(await noSidewaysScroll()).toBe(true);
    await shot('compare');
  });

  it("compares two jobs ticked in the project's job list", async () => {
    const em = app.running.services.orm.em.fork();
    const jobs = ['baseline', 'wider'].map((name) => createJobRow(em, { cluster: 'lab', state: 'COMPLETED', projectId: app.projectId!, name }));
    await em.flush();
    for (const [index, job] of jobs.entries()) await seedMetricPoints(app.running.services, job.id, { loss: steps(1, 20).map((step) => [step, lossAt(step, index)]) });
    await page.goto(`${app.url}/projects/${app.projectId}`);
    await page.getByTestId('compare-mode').click();
    for (const job of jobs) await page.getByRole('checkbox', { name: `Compare #${job.id}` }).check();
    expect(await noSidewaysScroll()).toBe(true);
    await shot('project-compare');
    await page.getByTestId('compare-open').click();
    await expect.poll(() => new URL(page.url()).search).toBe(`?jobs=${jobs[0]!.id},${jobs[1]!.id}`);
    await expect.poll(() => points('compare-chart').catch(() => 0), { timeout: 15_000 }).toBe(20);
    expect(await page.getByTestId('compare-chart').locator('.metric-chart-legend [data-series]').count()).toBe(2);
  });

  it('charts a real job of the fixture project while it runs, from the loss its progress bar prints', async () => {
    const submitted = await app.request(
      `mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`,
      { input: { projectId: app.projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 45 }] } },
    );
    expect(submitted.submitJob.__typename, submitted.submitJob.message).toBe('MutationSubmitJobSuccess');
    const jobId = submitted.submitJob.data.id;
    await page.goto(`${app.url}/jobs/${jobId}`);
    const chart = page.locator('.job-metrics figure.metric-chart').first();
    const drawn = () => chart.getAttribute('data-points').then(Number).catch(() => 0);
    const state = () => page.locator('.page-title-row [data-state]').getAttribute('data-state');
    await expect.poll(drawn, { timeout: 90_000, interval: 500 }).toBeGreaterThan(0);
    const first = await drawn();
    expect(await state()).toBe('RUNNING');
    await expect.poll(drawn, { timeout: 60_000, interval: 500 }).toBeGreaterThan(first);
    console.log(`real job ${jobId}: ${first} points when first drawn, ${await drawn()} later, state ${await state()}`);
    await expect.poll(state, { timeout: 90_000, interval: 1000 }).toBe('COMPLETED');
    // The chart stays after the end, with every point read (the last read comes after the end).
    const later = await drawn();
    await page.waitForTimeout(3000);
    expect(await drawn()).toBeGreaterThanOrEqual(later);
    console.log(`real job ${jobId} ended: ${await drawn()} points, names ${await page.locator('.metric-picker .chip, .job-metrics .metric-chart-title').allTextContents()}`);
    await shot('real-job');
  });
});
