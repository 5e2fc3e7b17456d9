// The built PWA in Debian's Chromium at phone size, served by the real server, showing the real lab cluster.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { startServer } from '../../server/main.js';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, launchPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('browser suite');
const ready = chromiumForSuite('browser suite') && lab !== null;

describe.skipIf(!ready)('the PWA on a phone', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  let token: string;

  beforeAll(async () => {
    const app = await startAppServer(lab!, { tokenName: 'pwa-suite' });
    ({ running, token } = app);
    context = await launchPhone(join(app.dir, 'chromium-profile'));
    page = context.pages()[0] ?? (await context.newPage());
  });
  afterAll(async () => {
    await context?.close();
    await running?.stop();
  });

  it('lists the lab cluster as reachable with its partitions', async () => {
    // Paired the way a phone is: the server's pairing link carries the token in the fragment.
    await page.goto(`${running.url}/#pair=${token}`);
    const card = page.locator('[data-cluster="lab"]');
    await expect.poll(() => card.getByTestId('reachability').textContent(), { timeout: 20_000 }).toMatch(/Reachable · \d+ ms$/);
    await expect.poll(() => card.getByRole('list', { name: 'Partitions of lab' }).locator('li strong').allTextContents()).toEqual(['gpu (default)', 'cpu']);
    expect(await card.textContent()).toContain(`Slurm ${lab!.slurmVersion}`);
    await page.screenshot({ path: join(ARTIFACTS, 'home-390x844.png'), fullPage: true });
  });

  it('fits a 360 px screen without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0);
    await page.setViewportSize({ width: 390, height: 844 });
  });

  it('has an active service worker and a manifest with no installability errors', async () => {
    const state = await page.evaluate(async () => {
      const worker = (await navigator.serviceWorker.ready).active!;
      if (worker.state !== 'activated') await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(null)));
      return worker.state;
    });
    expect(state).toBe('activated');
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] };
    expect(installabilityErrors).toEqual([]);
    const manifest = (await (await fetch(`${running.url}/manifest.webmanifest`)).json()) as { name: string; display: string; icons: Array<{ sizes: string; purpose?: string }> };
    expect(manifest).toMatchObject({ name: 'Mission Control', display: 'standalone' });
    expect(manifest.icons.map((icon) => `${icon.sizes}${icon.purpose ? ` ${icon.purpose}` : ''}`)).toEqual(expect.arrayContaining(['192x192', '512x512', '512x512 maskable']));
  });

  it('opens the app shell from the service worker cache when offline', async () => {
    await context.setOffline(true);
    try {
      await page.reload();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Home');
      await expect.poll(() => page.getByRole('banner').getByRole('link', { name: 'Mission Control' }).count()).toBe(1);
    } finally {
      await context.setOffline(false);
    }
  });
});
