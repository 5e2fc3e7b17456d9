// The sweep screen end to end: a real 6-run sweep (seed=1,2,3 × exit_code=0,3, so 3 runs fail) submitted over the
// API on the lab, watched live in the built PWA in Debian's Chromium at phone size, a task opened, failed tasks
// relaunched; then a 1,000-run sweep (written to the database) for the windowed table. Screenshots (light and
// dark) go to test-results/browser/sweep-*.png.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';
import { seedEndedSweep } from './seed-sweep.js';

const lab = labForSuite('sweep suite');
const ready = chromiumForSuite('sweep suite') && lab !== null;

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'SUBMIT_FAILED'];

describe.skipIf(!ready)('the sweep screen against the lab', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let context: BrowserContext;
  let page: Page;
  let sweepId: number;
  /** The single job launched beside the sweep (it waits for a failed task): the only job row lists may show. */
  let singleJobId: number | undefined;

  // The whole page, or (a thousand rows) what the phone's screen shows at a scroll position.
  const shot = async (name: string, options: { scrollY?: number } = {}) => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate((y) => window.scrollTo(0, y), options.scrollY ?? 0);
      await page.waitForTimeout(100);
      await page.screenshot({ path: join(ARTIFACTS, `sweep-${name}-${scheme}.png`), fullPage: options.scrollY === undefined });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const rows = () => page.locator('[data-testid="sweep-table"] .sweep-body [role="row"]');
  const rowStates = () => rows().evaluateAll((elements) => elements.map((element) => element.getAttribute('data-state')));
  const taskHref = (index: number) => page.locator(`.sweep-body [data-index="${index}"] a.row-link`).getAttribute('href');

  beforeAll(async () => {
    app = await startAppServer(lab!, { tokenName: 'sweep-phone', withProject: true });
    ({ context, page } = await pairedPhone(app));
  });
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
  });

  it('follows a submitted sweep live until every task ended, opens a task, and relaunches the failed ones', async () => {
    const submitted = await app.request(
      `mutation($input: SweepInput!) { submitSweep(input: $input) { __typename ... on MutationSubmitSweepSuccess { data { id size } } ... on Error { message } } }`,
      {
        input: {
          job: { projectId: app.projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 1 }] },
          sweep: ['seed=1,2,3', 'exit_code=0,3'],
        },
      },
    );
    expect(submitted.submitSweep.__typename, submitted.submitSweep.message).toBe('MutationSubmitSweepSuccess');
    sweepId = submitted.submitSweep.data.id;
    expect(submitted.submitSweep.data.size).toBe(6);

    await page.goto(`${app.url}/sweeps/${sweepId}`);
    await expect.poll(() => rows().count(), { timeout: 20_000 }).toBe(6);
    // A mark that a reload would lose: the rows below change while the page stays the same page.
    await page.evaluate(() => ((window as unknown as { sameVisit: boolean }).sameVisit = true));
    const firstStates = await rowStates();
    expect(await page.locator('.sweep-head .sort-label').allTextContents()).toEqual(['#', 'seed', 'exit_code', 'State', 'Time', 'Exit']);
    expect(await rows().first().locator('.cell-value').allTextContents()).toEqual(['1', '0']);

    await expect.poll(async () => (await rowStates()).every((state) => TERMINAL.includes(state!)), { timeout: 90_000, interval: 500 }).toBe(true);
    console.log(`rows when opened: ${firstStates.join(' ')}; at the end: ${(await rowStates()).join(' ')}`);
    expect(firstStates.some((state) => !TERMINAL.includes(state!))).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { sameVisit?: boolean }).sameVisit)).toBe(true);
    expect((await rowStates()).sort()).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED', 'FAILED', 'FAILED']);
    // exit_code=3 runs are the failed ones, with their exit code in the table.
    for (const index of [1, 3, 5]) {
      await expect.poll(() => page.locator(`.sweep-body [data-index="${index}"]`).getAttribute('data-state')).toBe('FAILED');
      // The end record gives the state; the exit code may follow with accounting's answer, also live.
      await expect.poll(() => page.locator(`.sweep-body [data-index="${index}"] .cell-exit`).textContent(), { timeout: 30_000 }).toBe('3');
    }
    await expect.poll(() => page.getByTestId('sweep-summary').locator('li').allTextContents()).toEqual(['✓ 3 completed', '✕ 3 failed']);
    await expect.poll(() => page.locator('.page-title-row [data-state]').getAttribute('data-state')).toBe('COMPLETED_WITH_FAILURES');

    // Filter by state, then sort by a column (tap its header twice: descending).
    await page.locator('.chip[data-filter="failed"]').click();
    expect(await rows().count()).toBe(3);
    await page.locator('.sweep-head').getByRole('button', { name: 'seed' }).click();
    await page.locator('.sweep-head').getByRole('button', { name: 'seed' }).click();
    expect(await rows().evaluateAll((elements) => elements.map((element) => element.getAttribute('data-index')))).toEqual(['5', '3', '1']);
    await page.locator('.chip[data-filter="all"]').click();
    expect(await rows().count()).toBe(6);
    await shot('6-ended');

    // A row opens its task's job screen, which names its sweep.
    const failedTask = (await taskHref(3))!;
    await page.locator('.sweep-body [data-index="3"]').click();
    await expect.poll(() => new URL(page.url()).pathname).toBe(failedTask);
    await expect.poll(() => page.getByTestId('task-of').textContent(), { timeout: 15_000 }).toMatch(/^Task 3 of sweep .+ \(6 runs\)$/);
    await shot('task-job');
    await page.goBack();
    await expect.poll(() => rows().count(), { timeout: 15_000 }).toBe(6);

    // Relaunch failed: retries 1, and the three failed rows get new tasks (which fail again: exit_code=3).
    const before = await Promise.all([1, 3, 5].map(taskHref));
    await page.getByRole('button', { name: 'Relaunch failed (3)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Relaunch' }).click();
    await expect.poll(() => page.getByTestId('sweep-retries').textContent(), { timeout: 30_000 }).toBe('1');
    await expect.poll(() => Promise.all([1, 3, 5].map(taskHref)), { timeout: 30_000 }).not.toEqual(before);
    const after = await Promise.all([1, 3, 5].map(taskHref));
    expect(after.every((href, position) => href !== before[position])).toBe(true);
    // The completed runs kept their tasks.
    expect(await taskHref(0)).not.toBeNull();
    await expect.poll(async () => (await rowStates()).filter((state) => state === 'FAILED').length, { timeout: 90_000, interval: 500 }).toBe(3);
    // The sweep's counts (sweepUpdated) follow its tasks' own changes: relaunchable again.
    await expect.poll(() => page.getByRole('button', { name: 'Relaunch failed (3)' }).isVisible(), { timeout: 15_000 }).toBe(true);
  });

  it('says plainly that a job waiting for the success of a failed task will never start, with its cancel button', async () => {
    const failedTaskId = Number((await page.locator('.sweep-body [data-index="1"] a.row-link').getAttribute('href'))!.split('/').pop());
    const submitted = await app.request(
      `mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`,
      { input: { projectId: app.projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', description: 'evaluate', dependsOn: [{ jobId: failedTaskId, kind: 'AFTEROK' }] } },
    );
    expect(submitted.submitJob.__typename, submitted.submitJob.message).toBe('MutationSubmitJobSuccess');
    singleJobId = submitted.submitJob.data.id;
    await page.goto(`${app.url}/jobs/${singleJobId}`);
    await expect.poll(() => page.getByTestId('depends-on').textContent(), { timeout: 15_000 }).toBe(`job ${failedTaskId} (afterok)`);
    await expect
      .poll(() => page.getByTestId('never-satisfied').textContent().catch(() => null), { timeout: 60_000, interval: 1000 })
      .toBe(`This job will never start: job ${failedTaskId} failed and this job waits for its success (afterok). Cancel it, or launch it again without that dependency.`);
    await shot('never-satisfied');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => page.locator('.page-title-row [data-state]').getAttribute('data-state'), { timeout: 30_000 }).toBe('CANCELLED');
  });

  it('shows the sweep as one line on Home and on its project, never its tasks as job rows', async () => {
    await page.goto(`${app.url}/`);
    const line = page.locator(`[data-sweep-id="${sweepId}"]`);
    await expect.poll(() => line.getByTestId('sweep-counts').textContent(), { timeout: 15_000 }).toBe('3 ✓ 3 ✕');
    const jobRowIds = (selector: string) => page.locator(selector).evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-job-id'))));
    expect(await jobRowIds('.home-projects .job-row[data-job-id]')).toEqual(singleJobId ? [singleJobId] : []);
    await shot('home');
    await page.goto(`${app.url}/projects/${app.projectId}`);
    await expect.poll(() => page.locator(`[data-sweep-id="${sweepId}"]`).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => jobRowIds('[aria-label="Jobs"] .job-row[data-job-id]'), { timeout: 15_000 }).toEqual(singleJobId ? [singleJobId] : []);
    await page.locator(`[data-sweep-id="${sweepId}"] a`).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe(`/sweeps/${sweepId}`);
  });

  it('draws only the rows in view of a 1,000-run sweep, and scrolls to its last', async () => {
    const bigId = await seedEndedSweep(app.running.services, app.projectId!, 1000);
    await page.goto(`${app.url}/sweeps/${bigId}`);
    await expect.poll(() => rows().count(), { timeout: 20_000 }).toBeGreaterThan(5);
    const drawn = await rows().count();
    expect(drawn).toBeLessThan(60);
    expect(await page.getByTestId('sweep-table').getAttribute('aria-rowcount')).toBe('1001');
    await shot('1000-top', { scrollY: 0 });
    await shot('1000-middle', { scrollY: 20_000 });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await expect.poll(() => page.locator('.sweep-body [data-index="999"]').count()).toBe(1);
    expect(await rows().count()).toBeLessThan(60);
    // Sorting a thousand rows by state puts the failures first.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('.sweep-head').getByRole('button', { name: 'State' }).click();
    await expect.poll(() => rows().first().getAttribute('data-state')).toBe('FAILED');
  });
});

// Launching a sweep from the form is test/browser/launch-sweep.test.ts.
