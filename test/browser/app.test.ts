// The phone app end to end: the built PWA in Debian's Chromium at phone size (390×844, touch), served by the real
// server, against the real SLURM lab with the fixture project. Screenshots of every screen go to
// test-results/browser/ (look at them).
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, buildApp, chromiumForSuite, initialScriptSizes, launchPhone, startAppServer } from './browser-env.js';

const INITIAL_JS_BUDGET = 60 * 1024;

const lab = labForSuite('app suite');
const ready = chromiumForSuite('app suite') && lab !== null;

describe.skipIf(!ready)('the phone app against the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  let token: string;
  let staticDir: string;
  let dir: string;
  let projectId: number;
  const jobs: { first?: number; long?: number; clone?: number } = {};
  /** What Chromium refused under the server's Content-Security-Policy, on any screen the tests below open. */
  const cspViolations: string[] = [];
  const LONG_NAME = `a-very-long-description-without-spaces-${'x'.repeat(90)}`;

  const shot = async (name: string) => {
    // From the top, so the sticky header sits where a user sees it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, `app-${name}.png`), fullPage: true });
  };
  const open = async (path: string) => {
    await page.goto(`${running.url}${path}`);
    await page.waitForLoadState('networkidle').catch(() => undefined);
  };
  const headerState = () => page.locator('.page-title-row [data-state]').getAttribute('data-state');
  const jobIdFromUrl = () => Number(/\/jobs\/(\d+)$/.exec(new URL(page.url()).pathname)![1]);

  beforeAll(async () => {
    const app = await startAppServer(lab!, { tokenName: 'test-phone', withProject: true });
    ({ dir, staticDir, running, token } = app);
    projectId = app.projectId!;
    context = await launchPhone(join(dir, 'chromium-profile'), { permissions: ['clipboard-read', 'clipboard-write'] });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()}: ${message.text()}`);
    });
  });
  afterAll(async () => {
    await context?.close();
    await running?.stop();
  });

  it('keeps the initial JavaScript within 60 kB gzipped', () => {
    const sizes = initialScriptSizes(staticDir);
    const total = sizes.reduce((sum, size) => sum + size.gzip, 0);
    console.log(`initial JS: ${(total / 1024).toFixed(1)} kB gzipped in ${sizes.length} files`);
    expect(total).toBeLessThanOrEqual(INITIAL_JS_BUDGET);
  });

  it('sends an unpaired phone to the pairing screen, then pairs from the pairing link', async () => {
    await open('/');
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 15_000 }).toBe('/pair');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Pair this device');
    await shot('pair');

    // A wrong paste is refused in place and stores nothing.
    await page.getByLabel('Access token or pairing link').fill('mc_not-a-real-token');
    await page.getByRole('button', { name: 'Pair' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('does not accept this token');
    expect(await page.evaluate(() => localStorage.getItem('mc.token'))).toBeNull();

    // The server's pairing link: the token rides in the fragment, which the app stores and removes.
    await page.goto(`${running.url}/#pair=${token}`);
    await expect.poll(() => page.evaluate(() => localStorage.getItem('mc.token'))).toBe(token);
    expect(new URL(page.url()).hash).toBe('');
    const card = page.locator('[data-cluster="lab"]');
    const reachability = () => card.getByTestId('reachability').textContent();
    await expect.poll(reachability, { timeout: 20_000 }).toMatch(/Reachable|Unreachable/);
    if (/Unreachable/.test((await reachability())!)) {
      // The lab is shared with other suites that restart its daemons: retry the way a user would.
      console.log(`lab card before a retry: ${await card.textContent()}`);
      await card.getByRole('button', { name: 'Test connection to lab' }).click();
    }
    await expect.poll(reachability, { timeout: 30_000 }).toMatch(/Reachable · \d+ ms/);
    await expect.poll(() => page.locator('[data-project="ml-project"]').count()).toBe(1);
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect.poll(() => page.getByTestId('token-name').textContent()).toBe('test-phone');
  });

  it('launches a job from the Hydra form and follows it live from PENDING to COMPLETED with its log', async () => {
    await open('/');
    await page.getByRole('link', { name: 'Launch ml-project' }).click();
    const sleep = page.getByLabel('sleep_seconds', { exact: true });
    await sleep.waitFor({ timeout: 20_000 });
    await page.getByLabel(/^Description/).fill('phone launch');
    // Left empty, memory and time get the partition's defaults, which the form names with the most it allows; SLURM's
    // own verdict on the script comes with the check.
    await expect.poll(() => page.locator('#field-memory-hint').textContent(), { timeout: 15_000 }).toBe("Empty: 100M per CPU (gpu's default) · at most 4000M");
    expect(await page.locator('#field-timeLimit-hint').textContent()).toBe("Empty: 01:00:00 (gpu's default) · at most 2-00:00:00");
    await expect.poll(() => page.getByTestId('preflight').textContent(), { timeout: 15_000 }).toMatch(/^SLURM accepts this · would start (now|≈ .+) on gpu-/);
    const limitsShot = async (name: string, selector: string) => {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.locator(selector).evaluate((element) => element.scrollIntoView({ block: 'center' }));
        await page.screenshot({ path: join(ARTIFACTS, `app-launch-${name}-${scheme}.png`) });
      }
      await page.emulateMedia({ colorScheme: 'light' });
    };
    await limitsShot('preflight', '[data-testid="preflight"]');
    // Asking more than the partition gives: refused under the field, with the limit.
    await page.getByLabel('Memory per node').fill('8G');
    await expect.poll(() => page.locator('#field-memory-error').textContent(), { timeout: 10_000 }).toContain('the largest node of partition gpu has 4000M');
    await page.getByLabel('Memory per node').fill('');
    await page.getByLabel('Time limit').fill('99-00:00:00');
    await expect.poll(() => page.locator('#field-timeLimit-error').textContent(), { timeout: 10_000 }).toContain('partition gpu allows at most 2-00:00:00');
    await limitsShot('limit-refused', '#field-timeLimit-error');
    await page.getByLabel('Memory per node').fill('200M');
    await page.getByLabel('Time limit').fill('5:00');
    await sleep.fill('10');

    // Validation as the user types: the server's message appears beside the field it names.
    await page.getByLabel('Memory per node').fill('200X');
    await expect.poll(() => page.locator('#field-memory-error').textContent(), { timeout: 10_000 }).toContain('not a SLURM memory size');
    await page.getByLabel('Memory per node').fill('200M');
    await page.getByLabel('Extra overrides').fill('seed=[1,');
    await expect.poll(() => page.locator('#field-rawOverrides-error').textContent(), { timeout: 10_000 }).toContain('unexpected end of input');
    await page.getByLabel('Extra overrides').fill('');
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 10_000 }).toContain('Checked');
    await page.getByText('Script preview').click();
    expect(await page.getByTestId('script-preview').textContent()).toContain('sleep_seconds=10');
    await shot('launch');

    // Surviving the time limit: the script asks SLURM for the signal and the requeue; a signal later than the limit
    // is refused under its field; turned off again, the job below launches without it.
    await page.getByText('Survive the time limit').click();
    await page.getByTestId('resume-on').check();
    await page.getByLabel('Override on a restart').fill('+resume=true');
    await expect.poll(() => page.getByTestId('script-preview').textContent(), { timeout: 10_000 }).toContain('#SBATCH --signal=B:USR2@120');
    expect(await page.getByTestId('script-preview').textContent()).toContain('#SBATCH --requeue');
    await page.getByLabel('Signal, seconds before').fill('600');
    await expect.poll(() => page.locator('#field-resume_signalSeconds-error').textContent().catch(() => ''), { timeout: 10_000 }).toContain('is not before the time limit (5:00 = 300 s)');
    await limitsShot('resume', '[data-testid="resume-on"]');
    await page.getByLabel('Signal, seconds before').fill('120');
    await page.getByTestId('resume-on').uncheck();
    await expect.poll(() => page.getByTestId('script-preview').textContent(), { timeout: 10_000 }).not.toContain('--requeue');

    // Every state the job screen's badge shows, recorded in the page: proof it changed without a reload.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      const record = () => {
        const state = document.querySelector('.page-title-row [data-state]')?.getAttribute('data-state');
        if (state && seen[seen.length - 1] !== state) seen.push(state);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });
    await page.getByRole('button', { name: 'Launch on lab' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toMatch(/^\/jobs\/\d+$/);
    jobs.first = jobIdFromUrl();
    await expect.poll(headerState, { timeout: 60_000, interval: 200 }).toBe('RUNNING');

    // The live log: the fixture's output arrives while the job runs.
    const log = page.getByTestId('log');
    await expect.poll(() => log.textContent(), { timeout: 30_000, interval: 250 }).toContain('config: train');
    expect(await log.textContent()).toContain('override: sleep_seconds=10');
    await shot('job-running');
    await expect.poll(headerState, { timeout: 60_000, interval: 250 }).toBe('COMPLETED');
    await expect.poll(() => log.textContent(), { timeout: 15_000 }).toContain('done');
    const text = (await log.textContent())!;
    expect(text).toContain('Epoch 1: 100%');
    expect(text).not.toContain('\r');

    const seen = await page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
    expect(seen.filter((state) => state !== 'COMPLETING')).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);
    await expect.poll(() => page.locator('[data-step="ended"]').getAttribute('data-status')).toBe('done');
    expect(await page.locator('[data-step="ended"]').textContent()).toContain('exit code 0');

    // Search highlights matches in the log.
    await page.getByLabel('Search the log').fill('override');
    await expect.poll(() => log.locator('mark').count()).toBeGreaterThanOrEqual(2);
    await shot('job-completed');
    await page.getByLabel('Search the log').fill('');
  });

  it('cancels a long job after a confirmation and shows CANCELLED', async () => {
    await open(`/projects/${projectId}/launch`);
    const sleep = page.getByLabel('sleep_seconds', { exact: true });
    await sleep.waitFor({ timeout: 20_000 });
    // Pre-filled from the last launch.
    expect(await page.getByLabel('Memory per node').inputValue()).toBe('200M');
    expect(await sleep.inputValue()).toBe('10');
    await sleep.fill('300');
    await page.getByLabel(/^Description/).fill(LONG_NAME);
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 10_000 }).toContain('Checked');
    await page.getByRole('button', { name: 'Launch on lab' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toMatch(/^\/jobs\/\d+$/);
    jobs.long = jobIdFromUrl();
    await expect.poll(headerState, { timeout: 60_000, interval: 250 }).toBe('RUNNING');

    await page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByRole('heading').textContent()).toContain(`#${jobs.long}`);
    await shot('cancel-confirm');
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(headerState, { timeout: 60_000, interval: 250 }).toBe('CANCELLED');
    await shot('job-cancelled');
  });

  it('clones the first job with one parameter changed and shows the edge in the lineage tree', async () => {
    await open(`/jobs/${jobs.first}`);
    await page.getByRole('button', { name: 'Clone' }).click();
    await expect.poll(() => new URL(page.url()).search).toBe(`?clone=${jobs.first}`);
    await expect.poll(() => page.getByTestId('clone-banner').textContent(), { timeout: 20_000 }).toContain(`Clone of job #${jobs.first}`);
    const sleep = page.getByLabel('sleep_seconds', { exact: true });
    expect(await sleep.inputValue()).toBe('10');
    await sleep.fill('2');
    await page.getByLabel('seed', { exact: true }).fill('7');
    await expect.poll(() => page.getByTestId('check-status').textContent(), { timeout: 10_000 }).toContain('Checked');
    await shot('launch-clone');
    await page.getByRole('button', { name: 'Launch on lab' }).click();
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 20_000 }).toMatch(/^\/jobs\/\d+$/);
    jobs.clone = jobIdFromUrl();
    expect(jobs.clone).not.toBe(jobs.first);

    await page.getByRole('link', { name: 'lineage' }).click();
    const child = page.locator(`[data-lineage-job="${jobs.first}"] [data-lineage-job="${jobs.clone}"]`);
    await child.waitFor({ timeout: 15_000 });
    const changes = await child.getByRole('list', { name: `Changes from job #${jobs.first}` }).locator('li').allTextContents();
    expect(changes).toEqual(expect.arrayContaining(['sleep_seconds: 10 → 2', 'seed: (default) → 7']));
    await expect.poll(() => child.locator('[data-state]').first().getAttribute('data-state'), { timeout: 60_000, interval: 250 }).toBe('COMPLETED');
    await shot('lineage');
    await page.getByRole('button', { name: `Branch from job #${jobs.clone}` }).click();
    await expect.poll(() => new URL(page.url()).search).toBe(`?clone=${jobs.clone}`);
  });

  it('lists the project jobs with live badges, filters and row actions', async () => {
    await open(`/projects/${projectId}`);
    const rows = page.getByRole('list', { name: 'Jobs' }).locator(':scope > li');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    await shot('project');
    await page.getByLabel('State').selectOption('cancelled');
    await expect.poll(() => rows.evaluateAll((items) => items.map((item) => item.getAttribute('data-job-id')))).toEqual([String(jobs.long)]);
    await page.getByLabel('State').selectOption('all');
    await page.getByLabel('Search name or description').fill('phone launch');
    await expect.poll(() => rows.evaluateAll((items) => items.map((item) => item.getAttribute('data-job-id')))).toEqual(expect.arrayContaining([String(jobs.first)]));
    await page.getByLabel('Search name or description').fill('');
    await expect.poll(() => rows.count()).toBe(3);

    await page.getByRole('button', { name: `Actions for ml-project #${jobs.first}` }).click();
    const sheet = page.getByRole('dialog');
    await expect.poll(() => sheet.getByRole('button').allTextContents()).toEqual(['Clone', 'Logs', 'View script', 'Open W&B', 'Archive', 'Close']);
    await shot('project-row-actions');
    await sheet.getByRole('button', { name: 'View script' }).click();
    await expect.poll(() => page.getByRole('dialog').getByLabel('sbatch script').textContent(), { timeout: 10_000 }).toContain('#SBATCH');
    await shot('script');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

    // Archive leaves the default list; the archived toggle brings it back.
    await page.getByRole('button', { name: `Actions for ml-project #${jobs.long}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Archive' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Show archived jobs').check();
    await expect.poll(() => rows.count()).toBe(3);
    await page.getByLabel('Show archived jobs').uncheck();
  });

  it('shows GPU availability per cluster with bars and a rate-limited refresh', async () => {
    await open('/clusters');
    const card = page.locator('[data-cluster="lab"]');
    await expect.poll(() => card.getByRole('list', { name: 'GPUs by type on lab' }).getByRole('img').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await card.getByRole('button', { name: 'Refresh GPU availability of lab' }).click();
    await expect.poll(() => card.getByRole('button', { name: 'Refresh GPU availability of lab' }).textContent(), { timeout: 15_000 }).toMatch(/Refresh/);
    await shot('clusters');
  });

  it('shows a phone paired read-only what it may do: no launch, cancel, clone or archive', async () => {
    const readOnlyToken = await createTestToken(running.services, { name: 'test-watcher', readOnly: true });
    await page.goto(`${running.url}/#pair=${readOnlyToken}`);
    await expect.poll(() => page.evaluate(() => localStorage.getItem('mc.readOnly')), { timeout: 15_000 }).toBe('1');
    const project = page.locator('[data-project="ml-project"]');
    await expect.poll(() => project.getByRole('link', { name: 'All jobs of ml-project' }).count(), { timeout: 15_000 }).toBe(1);
    expect(await project.getByRole('link', { name: 'Launch ml-project' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Test connection to lab' }).count()).toBe(0);

    await open(`/jobs/${jobs.first}`);
    await expect.poll(() => page.getByRole('button', { name: 'View script' }).count(), { timeout: 15_000 }).toBe(1);
    for (const name of ['Cancel job', 'Clone', 'Archive', 'Unarchive']) expect(await page.getByRole('button', { name, exact: true }).count()).toBe(0);
    await shot('job-read-only');

    await open('/settings');
    await expect.poll(() => page.getByText('read-only: can watch, cannot launch or cancel').count(), { timeout: 15_000 }).toBe(1);

    // Paired again with the full token, the actions come back (and the screens after this one need them).
    await page.goto(`${running.url}/#pair=${token}`);
    await expect.poll(() => page.evaluate(() => localStorage.getItem('mc.readOnly')), { timeout: 15_000 }).toBeNull();
    await expect.poll(() => page.locator('[data-project="ml-project"]').getByRole('link', { name: 'Launch ml-project' }).count(), { timeout: 15_000 }).toBe(1);
  });

  it('offers notification settings and pairing under stable labels', async () => {
    await open('/settings');
    await page.getByRole('switch', { name: 'Notifications' }).waitFor();
    await page.getByLabel('Still pending after (minutes)').waitFor();
    await page.getByLabel('Mute ml-project').waitFor();
    await page.getByRole('button', { name: 'Unpair this device' }).waitFor();
    await shot('settings');
  });

  it('shows the home screen with the latest jobs, in light and dark themes', async () => {
    await open('/');
    await expect.poll(() => page.getByRole('list', { name: 'Latest jobs of ml-project' }).locator('li').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await shot('home');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('home-dark');
    await open(`/jobs/${jobs.first}`);
    await expect.poll(() => page.getByTestId('log').textContent(), { timeout: 15_000 }).toContain('done');
    await shot('job-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('never scrolls sideways at 360 px, whatever the screen', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      const paths = ['/', `/projects/${projectId}`, `/projects/${projectId}/launch`, `/projects/${projectId}/launch?clone=${jobs.first}`, `/projects/${projectId}/lineage`, `/jobs/${jobs.first}`, `/jobs/${jobs.long}`, '/clusters', '/settings', '/pair'];
      const overflows: Record<string, number> = {};
      for (const path of paths) {
        await open(path);
        await page.waitForTimeout(800);
        overflows[path] = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      }
      expect(overflows).toEqual(Object.fromEntries(paths.map((path) => [path, 0])));
    } finally {
      await page.setViewportSize({ width: 390, height: 844 });
    }
  });

  it('runs every screen opened so far under the strict Content-Security-Policy without a violation', async () => {
    const response = await page.goto(`${running.url}/clusters`);
    expect(response?.headers()['content-security-policy']).toContain("style-src 'self';");
    await page.waitForLoadState('networkidle').catch(() => undefined);
    expect(cspViolations).toEqual([]);
  });

  it('opens offline with the last known jobs and an offline banner', async () => {
    await open(`/projects/${projectId}`);
    await expect.poll(() => page.getByRole('list', { name: 'Jobs' }).locator(':scope > li').count(), { timeout: 15_000 }).toBe(2);
    await open('/');
    await expect.poll(() => page.getByRole('list', { name: 'Latest jobs of ml-project' }).locator('li').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    // The offline copies are written shortly after the data arrives.
    await page.waitForTimeout(1000);
    await context.setOffline(true);
    try {
      await page.reload();
      await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 15_000 }).toBe(1);
      await expect.poll(() => page.locator(`[data-job-id="${jobs.first}"]`).count()).toBeGreaterThan(0);
      await shot('offline-home');
      await page.getByRole('link', { name: 'All jobs of ml-project' }).click();
      await expect.poll(() => page.getByRole('list', { name: 'Jobs' }).locator(':scope > li').count(), { timeout: 15_000 }).toBe(2);
      expect(await page.getByTestId('offline-banner').count()).toBe(1);
      await shot('offline-project');
    } finally {
      await context.setOffline(false);
    }
    await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 30_000 }).toBe(0);
  });

  it('offers a newly deployed version and switches to it when asked', async () => {
    await open('/settings');
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    const before = await page.getByTestId('app-version').textContent();
    expect(before).not.toContain('next-build');

    // A new deployment: another build served by a restarted server (same data, same address).
    const nextDir = join(dir, 'dist-next');
    buildApp(nextDir, { MC_BUILD_ID: 'next-build' });
    const port = Number(new URL(running.url).port);
    await running.stop();
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port, host: '127.0.0.1', dev: false, staticDir: nextDir });

    await page.reload();
    // What the app does when the phone brings it back to the foreground: look for a new service worker.
    await page.evaluate(() => navigator.serviceWorker.getRegistration().then((registration) => registration?.update()));
    const prompt = page.getByRole('status').filter({ hasText: 'A new version of Mission Control is ready.' });
    await expect.poll(() => prompt.count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByTestId('app-version').textContent()).toBe(before);
    await shot('update-prompt');
    await prompt.getByRole('button', { name: 'Reload' }).click();
    await expect.poll(() => page.getByTestId('app-version').textContent().catch(() => ''), { timeout: 20_000 }).toContain('next-build');
    expect(await prompt.count()).toBe(0);
  });
});
