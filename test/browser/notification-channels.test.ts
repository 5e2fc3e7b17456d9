// The server's other notification channels on the Settings screen: the config's destinations listed without their
// secrets, each with its last outcome, and "Send a test" reaching a real local receiver (an ntfy topic, an SMTP
// mailbox) or saying why it did not (a webhook answering 404). The destinations arrive by editing the running server's
// config file, as a person would: the reload applies them without a restart.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type SmtpReceiver } from '../notification-receivers.js';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, pairedPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('notification channels browser suite');
const ready = chromiumForSuite('notification channels browser suite') && lab !== null;
const TOKEN = 'tk_browser_ntfy_never_shown';
const PASSWORD = 'browser-smtp-password-5Kd';

describe.skipIf(!ready)('Settings: other notification channels', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let ntfy: HttpReceiver;
  let chat: HttpReceiver;
  let smtp: SmtpReceiver;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    ntfy = await startHttpReceiver();
    chat = await startHttpReceiver(404);
    smtp = await startSmtpReceiver({ user: 'mc', password: PASSWORD });
    app = await startAppServer(lab!, { tokenName: 'channels-phone' });
    writeFileSync(join(app.dir, 'ntfy-token'), TOKEN, { mode: 0o600 });
    writeFileSync(join(app.dir, 'smtp-password'), PASSWORD, { mode: 0o600 });
    const file = join(app.dir, 'clusters.yaml');
    const destinations = {
      'phone-ntfy': { type: 'ntfy', url: `${ntfy.url}/mc-jdoe-7f3k9q`, tokenFile: 'ntfy-token', events: ['jobEnd', 'sweepEnd', 'reauth', 'metricNan'] },
      'lab-chat': { type: 'webhook', format: 'slack', url: `${chat.url}/services/T0/B0/never-shown-path` },
      mail: { type: 'email', to: 'jdoe@hpc.example.edu', from: 'Mission Control <mc@hpc.example.edu>', smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: 'mc', passwordFile: 'smtp-password' } },
    };
    writeFileSync(file, readFileSync(file, 'utf8') + stringify({ notifications: { destinations } }));
    // The config watch reloads it within a moment (expect.poll is for tests, not their setup).
    for (let waited = 0; (await app.request('{ notificationDestinations { name } }')).notificationDestinations.length !== 3; waited += 200) {
      if (waited > 15_000) throw new Error('the server did not reload its config with the destinations');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    ({ context, page } = await pairedPhone(app));
  });
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
    await ntfy?.close();
    await chat?.close();
    await smtp?.close();
  });

  it('lists the destinations with where they go, never a secret', async () => {
    await page.goto(`${app.url}/settings`);
    const card = page.getByTestId('destinations');
    await expect.poll(() => card.locator('li').count(), { timeout: 15_000 }).toBe(3);
    const ntfyEntry = page.getByTestId('destination-phone-ntfy');
    expect(await ntfyEntry.textContent()).toContain(`${new URL(ntfy.url).host}/mc-jdoe-7f3k9q`);
    expect(await ntfyEntry.textContent()).toContain('Hears job ends, sweep ends, logins to renew, NaN metrics');
    expect(await page.getByTestId('destination-lab-chat').textContent()).toContain(`Webhook (slack)${new URL(chat.url).host}`);
    expect(await page.getByTestId('destination-mail').textContent()).toContain('jdoe@hpc.example.edu via 127.0.0.1');
    expect(await card.getByTestId('destination-status').first().textContent()).toBe('Nothing sent since the server started');
    expect(await page.content()).not.toMatch(/tk_browser_ntfy_never_shown|never-shown-path|browser-smtp-password/);
  });

  it('sends a test and shows the outcome: arrived, or the reason it did not', async () => {
    const ntfyEntry = page.getByTestId('destination-phone-ntfy');
    await ntfyEntry.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => ntfyEntry.getByTestId('destination-test-outcome').textContent(), { timeout: 15_000 }).toBe('Test sent just now: check that it arrived.');
    expect(ntfy.items.map((item) => [item.headers.authorization, item.json.title])).toEqual([[`Bearer ${TOKEN}`, 'Mission Control test']]);

    const mailEntry = page.getByTestId('destination-mail');
    await mailEntry.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => mailEntry.getByTestId('destination-test-outcome').textContent(), { timeout: 15_000 }).toBe('Test sent just now: check that it arrived.');
    expect(smtp.items.map((mail) => [mail.user, mail.subject, mail.to])).toEqual([['mc', 'Mission Control test', ['jdoe@hpc.example.edu']]]);

    const chatEntry = page.getByTestId('destination-lab-chat');
    await chatEntry.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => chatEntry.getByTestId('destination-test-outcome').textContent(), { timeout: 15_000 }).toBe('Test not sent: HTTP 404: {"error":"status 404"}');
    expect(chat.items).toHaveLength(1);
    // What the server keeps of it: another device (or this one, later) reads the failure.
    await page.reload();
    await expect.poll(() => page.getByTestId('destination-lab-chat').getByTestId('destination-status').textContent(), { timeout: 15_000 }).toBe('Last try failed just now: HTTP 404: {"error":"status 404"}');
    expect(await page.getByTestId('destination-phone-ntfy').getByTestId('destination-status').textContent()).toBe('Last sent just now');
    expect(await page.content()).not.toMatch(/tk_browser_ntfy_never_shown|never-shown-path|browser-smtp-password/);
  });

  it('looks right at 390 and 360 px, light and dark', async () => {
    // One test's outcome on screen beside the others' kept outcomes.
    await page.getByTestId('destination-mail').getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => page.getByTestId('destination-mail').getByTestId('destination-test-outcome').isVisible(), { timeout: 15_000 }).toBe(true);
    const card = page.getByTestId('destinations');
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: 844 });
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await card.evaluate((element) => element.scrollIntoView({ block: 'start' }));
        // No horizontal scroll at this width: the longest target wraps.
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        // The card as the phone shows it, and the whole page (from its top, where the sticky header belongs).
        await page.screenshot({ path: join(ARTIFACTS, `settings-destinations-${width}-${scheme}.png`) });
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(ARTIFACTS, `settings-destinations-${width}-${scheme}-page.png`), fullPage: true });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
