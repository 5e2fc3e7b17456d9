// What the browser suites share: Debian's Chromium at phone size, a fresh production build of the PWA, and a real
// server against the lab with a token and the fixture project.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from '../lab/fixture-repo.js';
import { labClustersYaml, type Lab } from '../lab/lab-env.js';

export const CHROMIUM = process.env.MC_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve('test-results/browser');

/** Chromium for a suite that needs it: in CI its absence fails the suite, elsewhere it is skipped with the reason. */
export function chromiumForSuite(suite: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `${suite}: no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI) throw new Error(reason);
  console.warn(`SKIPPED ${reason}`);
  return false;
}

/** A fresh production build (manifest, generated icons, service worker), not whatever client/dist holds. */
export function buildApp(outDir: string, env: Record<string, string> = {}): string {
  execFileSync(resolve('node_modules/.bin/vite'), ['build', '--config', 'client/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'inherit', env: { ...process.env, ...env } });
  return outDir;
}

/** The scripts index.html loads before the first screen (its module entry and every modulepreload), gzipped. */
export function initialScriptSizes(staticDir: string): Array<{ src: string; gzip: number }> {
  const html = readFileSync(join(staticDir, 'index.html'), 'utf8');
  const sources = [...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g), ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((match) => match[1]!);
  return [...new Set(sources)].map((src) => ({ src, gzip: gzipSync(readFileSync(join(staticDir, src))).length }));
}

/** The built app served by a real server whose one cluster is the lab; a token and the fixture project when asked. */
export async function startAppServer(lab: Lab, options: { tokenName?: string; withProject?: boolean; pushReceiverOnLoopback?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mc-browser-'));
  const staticDir = buildApp(join(dir, 'dist'));
  // The local push receiver listens on http://127.0.0.1, which a server accepts only when told to.
  const notifications = options.pushReceiverOnLoopback ? 'notifications:\n  allowLoopbackHttpEndpoints: true\n' : '';
  writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab) + notifications);
  const running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir });
  const token = await createTestToken(running.services, { name: options.tokenName ?? 'test-phone' });
  const request = graphqlClient(running.url, token);
  let projectId: number | undefined;
  if (options.withProject) {
    const repo = createFixtureRepo(lab.user);
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    projectId = added.addProject.data.id;
  }
  return { dir, staticDir, running, url: running.url, token, request, projectId };
}

/**
 * A phone: 390×844, touch, in a persistent profile in a fresh directory (Chromium calls a PWA in an incognito
 * context not installable).
 */
export async function launchPhone(profileDir: string, options: { permissions?: string[] } = {}): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
    permissions: options.permissions,
  });
}

/** A phone (launchPhone) paired with the app server by its token, as a user's QR code pairs it; page errors logged. */
export async function pairedPhone(app: { dir: string; url: string; token: string }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await launchPhone(join(app.dir, 'chromium-profile'));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${app.url}/#pair=${app.token}`);
  await page.waitForFunction((token) => localStorage.getItem('mc.token') === token, app.token, { timeout: 15_000 });
  return { context, page };
}
