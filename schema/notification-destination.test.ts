// Notification destinations over the real HTTP app: listed without their secrets, tested with "send a test" by a full
// token (rate-limited per destination), refused to a read-only one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { authHeaders, createTestToken } from '../test/graphql-client.js';
import { startHttpReceiver, type HttpReceiver } from '../test/notification-receivers.js';
import { loadConfig } from '../server/config.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createApp } from '../server/http/app.js';
import { createServices, type Services } from '../server/services.js';

const TOKEN = 'tk_graphql_never_shown_41';
let orm: Orm;
let services: Services;
let app: ReturnType<typeof createApp>;
let url: string;
let ntfy: HttpReceiver;
let full: string;
let readOnly: string;

beforeAll(async () => {
  ntfy = await startHttpReceiver();
  const dir = mkdtempSync(join(tmpdir(), 'mc-destinations-'));
  writeFileSync(join(dir, 'ntfy-token'), TOKEN, { mode: 0o600 });
  process.env.MC_TEST_CHAT_HOOK = 'https://chat.example.org/hooks/never-shown-hook-path';
  writeFileSync(
    join(dir, 'clusters.yaml'),
    `clusters:\n  here:\n    transport: local\nnotifications:\n  destinations:\n` +
      `    phone:\n      type: ntfy\n      url: ${ntfy.url}/lab-topic\n      tokenFile: ntfy-token\n      events: [jobEnd, metricNan]\n      mutedProjects: [scratch]\n` +
      `    chat:\n      type: webhook\n      format: mattermost\n      urlEnv: MC_TEST_CHAT_HOOK\n`,
  );
  orm = await initOrm(':memory:');
  services = createServices({ orm, config: loadConfig(join(dir, 'clusters.yaml')) });
  app = createApp({ services, access: {} });
  url = await app.start(0, '127.0.0.1');
  full = await createTestToken(services);
  readOnly = await createTestToken(services, { readOnly: true });
});
afterAll(async () => {
  await app.stop();
  await services.close();
  await orm.close();
  await ntfy.close();
});

async function post(token: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify({ query, variables }) });
  return { text: await response.clone().text(), body: (await response.json()) as any };
}

const LIST = '{ notificationDestinations { name type target format events mutedProjects pendingAfterMinutes lastSuccessAt lastError } }';
const TEST = `mutation($name: String!) { testNotificationDestination(name: $name) { __typename
  ... on MutationTestNotificationDestinationSuccess { data { ok error destination { name lastSuccessAt lastError } } }
  ... on RateLimitedError { retryAfterSeconds } ... on Error { message } } }`;

it('lists the destinations with host and topic, never a token or a webhook URL', async () => {
  const { text, body } = await post(readOnly, LIST);
  expect(body.data.notificationDestinations).toEqual([
    { name: 'phone', type: 'ntfy', target: `${new URL(ntfy.url).host}/lab-topic`, format: null, events: ['jobEnd', 'metricNan'], mutedProjects: ['scratch'], pendingAfterMinutes: null, lastSuccessAt: null, lastError: null },
    { name: 'chat', type: 'webhook', target: 'URL from urlEnv', format: 'mattermost', events: ['jobEnd', 'sweepEnd', 'reauth'], mutedProjects: [], pendingAfterMinutes: null, lastSuccessAt: null, lastError: null },
  ]);
  expect(text).not.toMatch(/tk_graphql_never_shown_41|never-shown-hook-path|ntfy-token/);
});

it('sends a test for a full token, refuses a read-only one, and limits how often', async () => {
  const refused = await post(readOnly, TEST, { name: 'phone' });
  expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(ntfy.items).toHaveLength(0);

  const sent = (await post(full, TEST, { name: 'phone' })).body.data.testNotificationDestination;
  expect(sent).toMatchObject({ __typename: 'MutationTestNotificationDestinationSuccess', data: { ok: true, error: null, destination: { name: 'phone', lastError: null } } });
  expect(ntfy.items.map((item) => [item.headers.authorization, item.json.topic, item.json.title])).toEqual([[`Bearer ${TOKEN}`, 'lab-topic', 'Mission Control test']]);
  expect((await post(full, LIST)).body.data.notificationDestinations[0].lastSuccessAt).toEqual(sent.data.destination.lastSuccessAt);

  await post(full, TEST, { name: 'phone' });
  await post(full, TEST, { name: 'phone' });
  const limited = (await post(full, TEST, { name: 'phone' })).body.data.testNotificationDestination;
  expect(limited).toMatchObject({ __typename: 'RateLimitedError' });
  expect(limited.retryAfterSeconds).toBeGreaterThan(0);
  expect(ntfy.items).toHaveLength(3);

  const missing = (await post(full, TEST, { name: 'pager' })).body.data.testNotificationDestination;
  expect(missing).toEqual({ __typename: 'NotFoundError', message: 'no notification destination named "pager" in the config' });
});
