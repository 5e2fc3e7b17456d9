// The PWA over the server's own HTTPS (server.tls), at a name other than loopback as a phone reaches it: Chromium
// grants a service worker and push only to a secure origin, and 127.0.0.1 is one even over plain HTTP, so the app is
// opened at https://mc.test (mapped to this machine) with a self-signed certificate the test's Chromium trusts.
// The same name over plain HTTP shows what the certificate buys: no service worker (hence no push).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken } from '../graphql-client.js';
import { labClustersYaml, labForSuite } from '../lab/lab-env.js';
import { selfSigned } from '../self-signed.js';
import { ARTIFACTS, buildApp, CHROMIUM, chromiumForSuite } from './browser-env.js';

const lab = labForSuite('HTTPS browser suite');
const ready = chromiumForSuite('HTTPS browser suite') && lab !== null;
const NAME = 'mc.test';

describe.skipIf(!ready)('the PWA over the server’s own HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-https-'));
  const servers: Array<Awaited<ReturnType<typeof startServer>>> = [];
  let context: BrowserContext;
  let page: Page;
  let httpsUrl: string;
  let httpUrl: string;
  let token: string;

  beforeAll(async () => {
    const staticDir = buildApp(join(dir, 'dist'));
    const certificate = selfSigned(dir, NAME, [NAME]);
    const start = async (name: string, tls: string) => {
      writeFileSync(join(dir, `${name}.yaml`), `${labClustersYaml(lab!)}server:\n  publicUrl: https://${NAME}\n${tls}`);
      const running = await startServer({ configPath: join(dir, `${name}.yaml`), dataDir: join(dir, name), port: 0, host: '127.0.0.1', dev: false, staticDir });
      servers.push(running);
      return running;
    };
    const secure = await start('secure', `  tls:\n    certFile: ${certificate.certFile}\n    keyFile: ${certificate.keyFile}\n`);
    const plain = await start('plain', '');
    expect(secure.url).toMatch(/^https:/);
    token = await createTestToken(secure.services, { name: 'https-phone' });
    httpsUrl = `https://${NAME}:${new URL(secure.url).port}`;
    httpUrl = `http://${NAME}:${new URL(plain.url).port}`;
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // A phone resolves the server's name by DNS and trusts its certificate; here both are told to this Chromium.
        `--host-resolver-rules=MAP ${NAME} 127.0.0.1`,
        `--ignore-certificate-errors-spki-list=${certificate.spki}`,
      ],
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    for (const running of servers) await running.stop();
  });

  it('pairs, registers its service worker and is installable', async () => {
    await page.goto(`${httpsUrl}/#pair=${token}`);
    await page.waitForFunction((expected) => localStorage.getItem('mc.token') === expected, token, { timeout: 15_000 });
    const card = page.locator('[data-cluster="lab"]');
    await expect.poll(() => card.getByTestId('reachability').textContent(), { timeout: 20_000 }).toMatch(/Reachable · \d+ ms$/);
    const state = await page.evaluate(async () => ({
      secure: window.isSecureContext,
      push: 'PushManager' in window,
      worker: await navigator.serviceWorker.ready.then(async (registration) => {
        const worker = registration.active!;
        if (worker.state !== 'activated') await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(null)));
        return { state: worker.state, scope: registration.scope };
      }),
    }));
    expect(state).toEqual({ secure: true, push: true, worker: { state: 'activated', scope: `${httpsUrl}/` } });
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] };
    expect(installabilityErrors).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'https-home-390x844.png') });
  });

  it('gets no service worker at the same name over plain HTTP', async () => {
    const other = await context.newPage();
    try {
      await other.goto(httpUrl);
      // Without navigator.serviceWorker there is no registration, hence no push subscription either.
      expect(await other.evaluate(() => ({ secure: window.isSecureContext, worker: 'serviceWorker' in navigator }))).toEqual({ secure: false, worker: false });
    } finally {
      await other.close();
    }
  });
});
