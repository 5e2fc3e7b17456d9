// The Usage screen and the queue wait in the launch form, as a phone shows them: the built app in Debian's Chromium
// against a real server on the lab, its database holding six weeks of jobs (ours and one launched elsewhere) whose
// figures are worked out here. Screenshots at 390 and 360 px, light and dark.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SacctJob, SacctRead } from '../../server/db/entities.js';
import type { JobState } from '../../server/slurm/state.js';
import { createJobRow, jobInput } from '../factories.js';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('usage browser suite');
const ready = chromiumForSuite('usage browser suite') && lab !== null;
const SCREENS = process.env.MC_SCREENS_DIR;
const HOUR = 3_600_000;
const MINUTE = 60_000;

describe.skipIf(!ready)('usage on the phone', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let context: BrowserContext;
  let page: Page;

  /** Each screen at 390 and 360 px, light and dark; `at` scrolls to what the shot is of (the fixed tab bar stays at the bottom). */
  const shots = async (name: string, at: () => Promise<unknown>) => {
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: 844 });
      await at();
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        // The charts take the new colours when they are built again.
        await page.waitForTimeout(300);
        for (const dir of [ARTIFACTS, SCREENS].filter((path): path is string => !!path)) await page.screenshot({ path: join(dir, `usage-${name}-${width}-${scheme}.png`) });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };

  /** Scrolls an element to the top of the screen, below the sticky header. */
  const under = (selector: string) => async () => {
    await page.locator(selector).evaluate((element) => element.scrollIntoView({ block: 'start' }));
    await page.evaluate(() => window.scrollBy(0, -80));
  };

  beforeAll(async () => {
    app = await startAppServer(lab!, { tokenName: 'usage-phone', withProject: true });
    for (const dir of [ARTIFACTS, SCREENS].filter((path): path is string => !!path)) mkdirSync(dir, { recursive: true });
    const now = Date.now();
    const em = app.running.services.orm.em.fork();
    // The lab was read a moment ago: its daily read stays out of this suite's figures.
    em.create(SacctRead, { cluster: 'lab', userId: 1, since: new Date(now - HOUR), readAt: new Date(now), attemptedAt: new Date(now), jobs: 1, error: null });
    const job = (gpus: number, gpuType: string | null, state: JobState, startedAgo: number, waitMs: number, runMs: number) => {
      const row = createJobRow(em, { cluster: 'lab', state, projectId: app.projectId });
      row.input = jobInput(app.projectId!, { cluster: 'lab', gpusPerNode: gpus, gpuType, partition: 'gpu' });
      row.startedAt = new Date(now - startedAgo);
      row.submittedAt = new Date(row.startedAt.getTime() - waitMs);
      row.endedAt = new Date(row.startedAt.getTime() + runMs);
    };
    // This week: A100s waited 1 h, 2 h 10 min and 3 h, and 4 h elsewhere (median 2 h 10 min); H100s 5 min.
    job(2, 'a100', 'COMPLETED', 30 * HOUR, 1 * HOUR, 4 * HOUR);
    job(2, 'a100', 'FAILED', 20 * HOUR, 2 * HOUR + 10 * MINUTE, 1 * HOUR);
    job(4, 'a100', 'COMPLETED', 10 * HOUR, 3 * HOUR, 6 * HOUR);
    job(1, 'h100', 'OUT_OF_MEMORY', 5 * HOUR, 5 * MINUTE, 2 * HOUR);
    // The weeks before (9 to 37 days ago, 6 of them in the last 30 days): a run of each outcome.
    const kinds: JobState[] = ['COMPLETED', 'COMPLETED', 'TIMEOUT', 'COMPLETED', 'CANCELLED', 'COMPLETED', 'NODE_FAIL', 'COMPLETED'];
    kinds.forEach((state, index) => job(index % 2 ? 1 : 2, index % 3 ? 'a100' : 'h100', state, (9 + index * 4) * 24 * HOUR, (20 + index * 7) * MINUTE, (3 + index) * HOUR));
    // Launched elsewhere: 4 A100s for 5 hours, three days ago, after 4 hours in the queue.
    em.create(SacctJob, { cluster: 'lab', userId: 1, slurmJobId: '999001', state: 'COMPLETED', slurmState: 'COMPLETED', slurmPartition: 'gpu', gpuCount: 4, gpuType: 'a100', exitCode: 0, submittedAt: new Date(now - 76 * HOUR), startedAt: new Date(now - 72 * HOUR), endedAt: new Date(now - 67 * HOUR), readAt: new Date(now) });
    await em.flush();
    ({ context, page } = await pairedPhone(app));
  });
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
  });

  // A wait is one unbreakable piece of text (no-break spaces): read as spaces here.
  const spaced = async (locator: Locator) => (await locator.textContent())?.replaceAll('\u00a0', ' ');
  const spacedAll = async (locator: Locator) => (await locator.allTextContents()).map((text) => text.replaceAll('\u00a0', ' '));

  it('shows the wait table, GPU-hours and outcomes per week, from the navigation', async () => {
    await page.goto(`${app.url}/`);
    await page.locator('.main-nav a[href="/usage"]').click();
    await page.waitForURL(/\/usage$/);
    const sentences = page.getByTestId('wait-sentences');
    await expect.poll(() => spaced(sentences), { timeout: 20_000 }).toContain('a100 on lab: median wait 2 h 10 min this week');
    expect(await spaced(sentences)).toContain('h100 on lab: median wait 5 min this week');
    // The cluster's own line: 5 jobs started this week (one elsewhere), 11 in 30 days.
    const all = page.locator('[data-testid="wait-table"] tr[data-cluster="lab"][data-partition=""][data-gpu-type=""]');
    await expect.poll(() => spaced(all)).toMatch(/^lab all jobs.*5 jobs.*11 jobs$/);
    const a100 = page.locator('[data-testid="wait-table"] tr[data-partition="gpu"][data-gpu-type="a100"]');
    expect(await spaced(a100)).toMatch(/^lab gpu · a1002 h 10 minp90 4 h · 4 jobs/);
    // Charts drawn with every week of the range; the groups' totals say GPU-hours and success.
    await expect.poll(() => page.getByTestId('gpu-hours-chart').getAttribute('data-points')).toBe('12');
    await expect.poll(() => page.locator('[data-testid="gpu-hours-chart"] canvas').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('outcomes-chart').locator('canvas').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const totals = await page.getByTestId('outcome-totals').textContent();
    expect(totals).toBe('Completed: 8Failed (exit code): 1Out of memory: 1Timed out: 1Cancelled: 1Node failure: 1');
    expect(await page.getByTestId('usage-groups').textContent()).toMatch(/^lab: \d+\.\d GPU-h · 62 % of 13 jobs completed$/);
    await shots('waits', () => page.evaluate(() => window.scrollTo(0, 0)));
    await shots('charts', under('#usage-gpu-hours'));
    await shots('outcomes', under('#usage-outcomes'));

    // By GPU type: a line per type.
    await page.locator('#usage-group').selectOption('GPU_TYPE');
    await expect.poll(() => page.getByTestId('usage-groups').textContent()).toMatch(/^a100: .*h100: /);
  });

  it('shows the median wait beside each cluster and GPU type in the launch form', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${app.url}/projects/${app.projectId}/launch`);
    const cluster = page.locator('#field-cluster');
    await expect.poll(() => spacedAll(cluster.locator('option')), { timeout: 30_000 }).toEqual([expect.stringMatching(/^lab · wait 2 h 10 min$/)]);
    await page.locator('#field-partition').selectOption('gpu');
    const gpuType = page.locator('#field-gpuType');
    await expect.poll(() => spacedAll(gpuType.locator('option')), { timeout: 30_000 }).toEqual(
      expect.arrayContaining([expect.stringMatching(/^a100 — \d free of 4 · wait 2 h 10 min$/), expect.stringMatching(/^h100 — \d free of 2 · wait 5 min$/)]),
    );
    await gpuType.selectOption('a100');
    // The chosen ones' waits under their fields too: a phone's select shows only the start of an option.
    expect(await spaced(page.locator('#field-cluster-hint'))).toBe('Queue: median wait 2 h 10 min (7 d)');
    await expect.poll(() => spaced(page.locator('#field-gpuType-hint'))).toBe('Free counts are live. Queue for a100: median wait 2 h 10 min (7 d)');
    await shots('launch', under('#field-cluster'));
  });
});
