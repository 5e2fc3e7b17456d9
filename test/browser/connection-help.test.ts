// A cluster that cannot be reached, with its own connection help, as a phone shows it: the built app in Debian's
// Chromium, a real server whose one cluster is an ssh2 cluster on a loopback port nothing listens on (as when the
// VPN is down), and the site's instructions page served locally. Needs no SLURM lab.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken } from '../graphql-client.js';
import { ARTIFACTS, buildApp, chromiumForSuite, pairedPhone } from './browser-env.js';

const ready = chromiumForSuite('connection help suite');
/** Screenshots a person looks at (the acceptance), besides the suite's artifacts. */
const SCREENS = process.env.MC_SCREENS_DIR;

const VPN = 'sudo openconnect --user=jdoe --passwd-on-stdin vpn.uni.edu';
const STEPS = 'Off campus: connect the VPN first and approve the Duo push.\nThen tap Test connection below.';

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!ready)('connection help on an unreachable cluster', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let site: Server;
  let siteUrl: string;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-browser-help-'));
    const staticDir = buildApp(join(dir, 'dist'));
    // The site's own instructions page.
    site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<title>HPC access</title><h1>Connecting to the HPC</h1>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}/docs/access`;
    const identityFile = join(dir, 'id_ed25519');
    writeFileSync(identityFile, utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
    writeFileSync(join(dir, 'known_hosts'), '');
    const yaml = [
      'clusters:',
      '  campus:',
      '    host: 127.0.0.1',
      `    port: ${await closedPort()}`,
      '    user: jdoe',
      `    identityFile: ${identityFile}`,
      `    knownHostsFile: ${join(dir, 'known_hosts')}`,
      '    connectionHelp:',
      `      vpn: ${JSON.stringify(VPN)}`,
      `      steps: ${JSON.stringify(STEPS)}`,
      `      link: ${siteUrl}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'clusters.yaml'), yaml);
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir });
    const token = await createTestToken(running.services, { name: 'help-phone' });
    ({ context, page } = await pairedPhone({ dir, url: running.url, token }));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: running.url });
    await page.setViewportSize({ width: 360, height: 740 });
  });
  afterAll(async () => {
    await context?.close();
    await running?.stop();
    await new Promise((resolve) => site?.close(resolve));
  });

  it("shows the cluster's help beside its error: the VPN command, the steps and the site's instructions", async () => {
    await page.goto(`${running.url}/`);
    const card = page.locator('[data-cluster="campus"]');
    await expect.poll(() => card.getByTestId('reachability').textContent(), { timeout: 20_000 }).toBe('!Unreachable');
    expect(await card.getByRole('alert').textContent()).toMatch(/ECONNREFUSED|refused/);
    const help = card.getByRole('region', { name: 'How to reach campus' });
    expect(await help.isVisible()).toBe(true);
    expect(await help.locator('code').textContent()).toBe(VPN);
    // The command wraps between its words at 360 px, never inside one (`--user` split reads as `- -user`).
    const wordLines = await help.locator('code .word').evaluateAll((words) => words.map((word) => word.getClientRects().length));
    expect(wordLines).toEqual(VPN.split(' ').map(() => 1));
    const lineHeights = await help.locator('code .word').evaluateAll((words) => words.map((word) => Math.round(word.getBoundingClientRect().height)));
    expect(new Set(lineHeights).size).toBe(1);
    expect(await help.locator('.steps').innerText()).toBe(STEPS);
    const link = help.getByRole('link', { name: /Connection instructions/ });
    expect(await link.getAttribute('href')).toBe(siteUrl);
    // Fits the phone: nothing scrolls sideways at 360 px.
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  });

  it('copies the VPN command', async () => {
    const help = page.locator('[data-cluster="campus"]').getByRole('region', { name: 'How to reach campus' });
    await help.getByRole('button', { name: 'Copy the VPN command for campus' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('VPN command copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(VPN);
  });

  it("opens the site's instructions in a new tab that cannot reach back into the app", async () => {
    const link = page.locator('[data-cluster="campus"]').getByRole('link', { name: /Connection instructions/ });
    const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe(siteUrl);
    expect(await tab.title()).toBe('HPC access');
    expect(await tab.evaluate(() => window.opener)).toBeNull();
    await tab.close();
    expect(page.url()).toBe(`${running.url}/`);
  });

  it('shows the same help on the Clusters screen, which the "log in again" push opens', async () => {
    await page.goto(`${running.url}/clusters`);
    const help = page.locator('[data-cluster="campus"]').getByRole('region', { name: 'How to reach campus' });
    await expect.poll(() => help.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await help.locator('code').textContent()).toBe(VPN);
    // The error once: the screen's GPU notice already says it.
    await expect.poll(async () => (await page.locator('[data-cluster="campus"]').textContent())!.match(/ECONNREFUSED/g)?.length).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'connection-help-360-clusters.png'), fullPage: true });
    await page.goto(`${running.url}/`);
    await expect.poll(() => page.locator('[data-cluster="campus"]').getByRole('region', { name: 'How to reach campus' }).isVisible(), { timeout: 20_000 }).toBe(true);
  });

  it('looks right at 360 px in light and dark themes, under the strict Content-Security-Policy', async () => {
    const card = page.locator('[data-cluster="campus"]');
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.mouse.move(0, 0);
      const name = `connection-help-360-${scheme}.png`;
      const pageName = `connection-help-360-${scheme}-page.png`;
      for (const dir of [ARTIFACTS, ...(SCREENS ? [SCREENS] : [])]) {
        mkdirSync(dir, { recursive: true });
        await card.screenshot({ path: join(dir, name) });
        await page.screenshot({ path: join(dir, pageName) });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(cspViolations).toEqual([]);
  });

  it('tells a user of a group server without a login on the cluster why its card is red and what to ask for, at 360 px in light and dark', async () => {
    const bob = await running.services.users.add('bob');
    const token = await createTestToken(running.services, { name: 'bob-phone', userId: bob.id });
    const phone = await pairedPhone({ dir: mkdtempSync(join(tmpdir(), 'mc-browser-no-login-')), url: running.url, token });
    try {
      await phone.page.setViewportSize({ width: 360, height: 740 });
      await phone.page.goto(`${running.url}/clusters`);
      const card = phone.page.locator('[data-cluster="campus"]');
      await expect.poll(() => card.textContent(), { timeout: 20_000 }).toMatch(/bob has no login on cluster "campus": an admin adds one to the config as clusters\.campus\.logins\.bob/);
      // His card asks nothing of the cluster: no connection error of the owner's login shows there.
      expect(await card.textContent()).not.toMatch(/ECONNREFUSED/);
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
      for (const scheme of ['light', 'dark'] as const) {
        await phone.page.emulateMedia({ colorScheme: scheme });
        for (const dir of [ARTIFACTS, ...(SCREENS ? [SCREENS] : [])]) {
          mkdirSync(dir, { recursive: true });
          await card.screenshot({ path: join(dir, `no-login-360-${scheme}.png`) });
        }
      }
    } finally {
      await phone.context.close();
    }
  });
});
