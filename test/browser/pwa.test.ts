// The built PWA in Debian's Chromium at phone size, served by the real server, showing the real lab cluster.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken } from '../graphql-client.js';
import { labClustersYaml, labForSuite } from '../lab/lab-env.js';

const CHROMIUM = process.env.MC_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('test-results/browser');

function chromiumForSuite(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `browser suite: no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI) throw new Error(reason);
  console.warn(`SKIPPED ${reason}`);
  return false;
}

const lab = labForSuite('browser suite');
const ready = chromiumForSuite() && lab !== null;

describe.skipIf(!ready)('the PWA on a phone', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  let token: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-browser-'));
    const staticDir = join(dir, 'dist');
    // A fresh production build (manifest, generated icons, service worker), not whatever client/dist holds.
    execFileSync(resolve('node_modules/.bin/vite'), ['build', '--config', 'client/vite.config.ts', '--outDir', staticDir, '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'inherit' });
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir });
    token = await createTestToken(running.services, { name: 'pwa-suite' });

    // A persistent profile in a fresh directory: Chromium calls a PWA in an incognito context not installable.
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    page = context.pages()[0] ?? (await context.newPage());
    mkdirSync(ARTIFACTS, { recursive: true });
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
