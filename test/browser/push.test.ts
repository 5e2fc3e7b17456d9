// Web Push end to end, as far as a machine without the browser's push service allows. The test stands in for the
// push service: the page's pushManager.subscribe answers with an endpoint on a local receiver whose keys the test
// holds. Everything else is real: the app's settings flow registers that subscription with the server, the
// server's notifier pushes a job's end (VAPID-signed, RFC 8291-encrypted) to the receiver, and the service worker,
// fed that very payload through CDP, shows the notification; its click handler opens the job.
import { join } from 'node:path';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushReceiver, type PushReceiver, type ReceivedPush } from '../push-receiver.js';
import { labForSuite } from '../lab/lab-env.js';
import { ARTIFACTS, chromiumForSuite, launchPhone, startAppServer } from './browser-env.js';

const lab = labForSuite('push suite');
const ready = chromiumForSuite('push suite') && lab !== null;

describe.skipIf(!ready)('Web Push on the phone app', () => {
  let app: Awaited<ReturnType<typeof startAppServer>>;
  let receiver: PushReceiver;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let jobId: number;
  let pushed: ReceivedPush;

  beforeAll(async () => {
    receiver = await startPushReceiver();
    app = await startAppServer(lab!, { tokenName: 'push-phone', withProject: true, pushReceiverOnLoopback: true });
    context = await launchPhone(join(app.dir, 'chromium-profile'), { permissions: ['notifications'] });
    // The push service's part: a subscription for the receiver, remembered across reloads like a real one.
    await context.addInitScript(({ endpoint, keys }) => {
      const subscribed = 'test.push-subscribed';
      const subscription = {
        endpoint,
        expirationTime: null,
        options: { userVisibleOnly: true },
        toJSON: () => ({ endpoint, expirationTime: null, keys }),
        getKey: () => null,
        unsubscribe: async () => {
          localStorage.removeItem(subscribed);
          return true;
        },
      };
      PushManager.prototype.subscribe = async function (options?: PushSubscriptionOptionsInit) {
        const key = new Uint8Array(options?.applicationServerKey as ArrayBuffer);
        localStorage.setItem('test.applicationServerKey', btoa(String.fromCharCode(...key)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
        localStorage.setItem(subscribed, '1');
        return subscription as unknown as PushSubscription;
      };
      PushManager.prototype.getSubscription = async function () {
        return (localStorage.getItem(subscribed) ? subscription : null) as unknown as PushSubscription | null;
      };
    }, { endpoint: receiver.endpoint, keys: receiver.keys });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  });
  afterAll(async () => {
    await context?.close();
    await app?.running.stop();
    await receiver?.close();
  });

  it('registers this phone for notifications through the settings screen, with the server\'s VAPID key', async () => {
    await page.goto(`${app.url}/#pair=${app.token}`);
    await expect.poll(() => page.evaluate(() => localStorage.getItem('mc.token'))).toBe(app.token);
    await page.goto(`${app.url}/settings`);
    const toggle = page.getByRole('switch', { name: 'Notifications' });
    await toggle.click();
    const device = () => app.request(`query($endpoint: String!) { pushDevice(endpoint: $endpoint) { endpoint mutedProjectIds } }`, { endpoint: receiver.endpoint });
    await expect.poll(async () => (await device()).pushDevice, { timeout: 15_000 }).toEqual({ endpoint: receiver.endpoint, mutedProjectIds: [] });
    expect(await toggle.isChecked()).toBe(true);
    const { pushPublicKey } = await app.request('{ pushPublicKey }');
    expect(await page.evaluate(() => localStorage.getItem('test.applicationServerKey'))).toBe(pushPublicKey);
    await page.screenshot({ path: join(ARTIFACTS, 'app-settings-notifications.png'), fullPage: true });
  });

  it('turns on the push for a long wait\'s end with its minutes, off until then', async () => {
    const started = page.getByRole('switch', { name: 'Notify me when a long-waiting job starts' });
    const chosen = async () => (await app.request(`query($endpoint: String!) { pushDevice(endpoint: $endpoint) { startedAfterWaitMinutes } }`, { endpoint: receiver.endpoint })).pushDevice.startedAfterWaitMinutes;
    expect(await started.isChecked()).toBe(false);
    expect(await chosen()).toBeNull();
    await started.click();
    const minutes = page.getByLabel('Waited at least (minutes)');
    expect(await minutes.inputValue()).toBe('60');
    await expect.poll(chosen, { timeout: 10_000 }).toBe(60);
    await minutes.fill('90');
    await minutes.press('Tab');
    await expect.poll(chosen, { timeout: 10_000 }).toBe(90);
    await page.reload();
    await expect.poll(() => page.getByLabel('Waited at least (minutes)').inputValue(), { timeout: 15_000 }).toBe('90');
    await page.getByRole('switch', { name: 'Notify me when a long-waiting job starts' }).click();
    await expect.poll(chosen, { timeout: 10_000 }).toBeNull();
  });

  it("delivers the server's push for a job's end, encrypted for this subscription and naming the job and state", async () => {
    const submitted = await app.request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id name } } ... on Error { message } } }`, {
      input: { projectId: app.projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 1 }] },
    });
    jobId = submitted.submitJob.data.id;
    pushed = await receiver.waitFor((message) => message.json?.jobId === jobId, 90_000);
    expect(pushed.json).toMatchObject({ jobId, state: 'COMPLETED', url: `/jobs/${jobId}`, tag: `job-${jobId}`, cluster: 'lab' });
    expect(pushed.json.title).toContain(submitted.submitJob.data.name);
    expect(pushed.json.body).toMatch(/^Exit code 0 · lab/);
    const { pushPublicKey } = await app.request('{ pushPublicKey }');
    expect(pushed.vapid.publicKey).toBe(pushPublicKey);
    expect(receiver.errors).toEqual([]);
  });

  it('shows that payload as a notification from the service worker, and its click opens the job', async () => {
    await page.goto(app.url);
    await page.evaluate(() => navigator.serviceWorker.ready);
    cdp = await context.newCDPSession(page);
    const registrations = new Map<string, string>();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
      for (const registration of updated) if (!registration.isDeleted) registrations.set(registration.scopeURL, registration.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    await expect.poll(() => registrations.get(`${app.url}/`)).toBeDefined();
    const deliver = () => cdp.send('ServiceWorker.deliverPushMessage', { origin: app.url, registrationId: registrations.get(`${app.url}/`)!, data: pushed.text });
    await deliver();

    const shown = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((notification) => ({ title: notification.title, body: notification.body, tag: notification.tag, data: notification.data })));
    // A message CDP hands over can be dropped before the worker handles pushes (1 run in 2 here on a loaded machine,
    // nothing shown after 10 s). A push service retries; so does this, every 2 s: the notification's tag makes a
    // second delivery replace the first, never add to it.
    let lastDelivery = Date.now();
    await expect
      .poll(
        async () => {
          const notifications = await shown();
          if (notifications.length === 0 && Date.now() - lastDelivery > 2000) {
            lastDelivery = Date.now();
            await deliver();
          }
          return notifications;
        },
        { timeout: 15_000 },
      )
      .toEqual([{ title: pushed.json.title, body: pushed.json.body, tag: `job-${jobId}`, data: { url: `/jobs/${jobId}` } }]);

    // Headless Chromium has no notification to tap: the worker's own notificationclick handler gets the shown
    // notification in a click event, as the system would dispatch it.
    const worker = context.serviceWorkers().find((candidate) => candidate.url().startsWith(app.url))!;
    await worker.evaluate(async (tag) => {
      // The worker's global scope: the DOM typings of this test file do not describe it.
      const scope = self as any;
      const [notification] = await scope.registration.getNotifications({ tag });
      scope.dispatchEvent(new scope.NotificationEvent('notificationclick', { notification }));
    }, `job-${jobId}`);
    await expect.poll(() => new URL(page.url()).pathname, { timeout: 10_000 }).toBe(`/jobs/${jobId}`);
    await expect.poll(() => page.locator('.page-title-row [data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('COMPLETED');
    await page.screenshot({ path: join(ARTIFACTS, 'app-job-from-notification.png'), fullPage: true });
  });
});
