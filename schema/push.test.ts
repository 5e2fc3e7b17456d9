// The Web Push API as a client calls it, executed against the schema on an in-memory database.
import { createECDH, randomBytes } from 'node:crypto';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertProject } from '../test/factories.js';
import { ApiToken, PushSubscription } from '../server/db/entities.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Context, type Services } from '../server/services.js';
import { schema } from './index.js';

let orm: Orm;
let services: Services;
let projectId: number;

beforeAll(async () => {
  orm = await initOrm(':memory:');
  services = createServices({ orm, config: { file: 'test.yaml', clusters: [] } });
  const em = orm.em.fork();
  const project = await insertProject(em);
  projectId = project.id;
});
afterAll(async () => {
  await services.close();
  await orm.close();
});

async function run(source: string, variableValues?: Record<string, unknown>) {
  const contextValue: Context = { em: orm.em.fork(), services, session: { tokenName: null, tokenId: null, readOnly: false, authRequired: false, userId: 1, admin: true } };
  const result = await graphql({ schema, source, variableValues, contextValue });
  expect(result.errors).toBeUndefined();
  return result.data as any;
}

function browserKeys() {
  const ecdh = createECDH('prime256v1');
  return { p256dh: ecdh.generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

const device = 'endpoint pendingAfterMinutes mutedProjectIds failedTaskPushes metricNanPushes gpuIdlePushes startedAfterWaitMinutes createdAt';
const register = `mutation ($input: PushSubscriptionInput!) {
  registerPushSubscription(input: $input) {
    __typename
    ... on MutationRegisterPushSubscriptionSuccess { data { ${device} } }
    ... on ValidationError { field message }
  }
}`;
const update = `mutation ($endpoint: String!, $pendingAfterMinutes: Int, $mutedProjectIds: [Int!], $failedTaskPushes: Boolean, $metricNanPushes: Boolean, $gpuIdlePushes: Boolean, $startedAfterWaitMinutes: Int) {
  updatePushSettings(endpoint: $endpoint, pendingAfterMinutes: $pendingAfterMinutes, mutedProjectIds: $mutedProjectIds, failedTaskPushes: $failedTaskPushes, metricNanPushes: $metricNanPushes, gpuIdlePushes: $gpuIdlePushes, startedAfterWaitMinutes: $startedAfterWaitMinutes) {
    __typename
    ... on MutationUpdatePushSettingsSuccess { data { ${device} } }
    ... on Error { message }
    ... on ValidationError { field }
  }
}`;
const unregister = `mutation ($endpoint: String!) {
  unregisterPushSubscription(endpoint: $endpoint) { ... on MutationUnregisterPushSubscriptionSuccess { data } }
}`;
const read = `query ($endpoint: String!) { pushDevice(endpoint: $endpoint) { ${device} } }`;

describe('Web Push API', () => {
  it('gives the VAPID public key a browser subscribes with', async () => {
    const { pushPublicKey } = await run('{ pushPublicKey }');
    expect(pushPublicKey).toBe(await services.notify.publicKey());
    expect(Buffer.from(pushPublicKey, 'base64url')).toHaveLength(65);
  });

  it('registers, shows, updates and unregisters a device, upserting by endpoint and never showing its keys', async () => {
    const endpoint = 'https://push.example.net/send/device-1';
    const first = await run(register, { input: { endpoint, ...browserKeys(), pendingAfterMinutes: 15, mutedProjectIds: [projectId, projectId] } });
    expect(first.registerPushSubscription).toMatchObject({
      __typename: 'MutationRegisterPushSubscriptionSuccess',
      data: { endpoint, pendingAfterMinutes: 15, mutedProjectIds: [projectId], failedTaskPushes: false, metricNanPushes: true, gpuIdlePushes: true, startedAfterWaitMinutes: null },
    });
    expect((await run(read, { endpoint })).pushDevice).toEqual(first.registerPushSubscription.data);

    // Omitted arguments keep their value; an explicit null clears.
    expect((await run(update, { endpoint, mutedProjectIds: [] })).updatePushSettings.data).toMatchObject({ pendingAfterMinutes: 15, mutedProjectIds: [] });
    expect((await run(update, { endpoint, pendingAfterMinutes: null })).updatePushSettings.data).toMatchObject({ pendingAfterMinutes: null, mutedProjectIds: [] });
    // Each failed sweep task: off by default, turned on alone, kept when omitted, null turns it off.
    expect((await run(update, { endpoint, failedTaskPushes: true })).updatePushSettings.data).toMatchObject({ pendingAfterMinutes: null, mutedProjectIds: [], failedTaskPushes: true });
    expect((await run(update, { endpoint, pendingAfterMinutes: 5 })).updatePushSettings.data).toMatchObject({ failedTaskPushes: true });
    expect((await run(update, { endpoint, failedTaskPushes: null })).updatePushSettings.data).toMatchObject({ pendingAfterMinutes: 5, failedTaskPushes: false });
    // The NaN and idle-GPU pushes: on by default, each turned off alone, kept when omitted, null turns it off.
    expect((await run(update, { endpoint, metricNanPushes: false })).updatePushSettings.data).toMatchObject({ metricNanPushes: false, gpuIdlePushes: true, failedTaskPushes: false });
    expect((await run(update, { endpoint, gpuIdlePushes: null })).updatePushSettings.data).toMatchObject({ metricNanPushes: false, gpuIdlePushes: false });
    expect((await run(update, { endpoint, metricNanPushes: true, gpuIdlePushes: true })).updatePushSettings.data).toMatchObject({ metricNanPushes: true, gpuIdlePushes: true });
    // A long wait's end: off by default, a threshold turns it on, kept when omitted, null turns it off; 0 is refused.
    expect((await run(update, { endpoint, startedAfterWaitMinutes: 45 })).updatePushSettings.data).toMatchObject({ startedAfterWaitMinutes: 45, pendingAfterMinutes: 5 });
    expect((await run(update, { endpoint, pendingAfterMinutes: 6 })).updatePushSettings.data).toMatchObject({ startedAfterWaitMinutes: 45 });
    expect((await run(update, { endpoint, startedAfterWaitMinutes: 0 })).updatePushSettings).toMatchObject({ __typename: 'ValidationError', field: 'startedAfterWaitMinutes' });
    expect((await run(update, { endpoint, startedAfterWaitMinutes: null })).updatePushSettings.data).toMatchObject({ startedAfterWaitMinutes: null });
    await run(update, { endpoint, pendingAfterMinutes: 60, mutedProjectIds: [projectId], failedTaskPushes: true, gpuIdlePushes: false });

    // The browser subscribing again (new keys) is the same device with the same settings.
    const again = await run(register, { input: { endpoint, ...browserKeys() } });
    expect(again.registerPushSubscription.data).toEqual({ ...first.registerPushSubscription.data, pendingAfterMinutes: 60, mutedProjectIds: [projectId], failedTaskPushes: true, gpuIdlePushes: false });
    const chosenAtRegistration = await run(register, { input: { endpoint: 'https://push.example.net/send/device-3', ...browserKeys(), failedTaskPushes: true, metricNanPushes: false } });
    expect(chosenAtRegistration.registerPushSubscription.data).toMatchObject({ failedTaskPushes: true, metricNanPushes: false, gpuIdlePushes: true });

    const fields = (await run('{ __type(name: "PushDevice") { fields { name } } }')).__type.fields.map((field: { name: string }) => field.name);
    expect(fields.sort()).toEqual(['createdAt', 'endpoint', 'failedTaskPushes', 'gpuIdlePushes', 'metricNanPushes', 'mutedProjectIds', 'pendingAfterMinutes', 'requeuePushes', 'startedAfterWaitMinutes', 'timeLimitPushes']);

    expect((await run(unregister, { endpoint })).unregisterPushSubscription.data).toBe(true);
    expect((await run(unregister, { endpoint })).unregisterPushSubscription.data).toBe(false);
    expect((await run(read, { endpoint })).pushDevice).toBeNull();
  });

  it('takes plain http only for an endpoint on this machine, and only when the config allows a local test receiver', async () => {
    const loopback = ['http://127.0.0.1:4999/push/a', 'http://localhost:4999/push/b', 'http://[::1]:4999/push/c'];
    for (const endpoint of loopback) {
      expect((await run(register, { input: { endpoint, ...browserKeys() } })).registerPushSubscription).toMatchObject({ __typename: 'ValidationError', field: 'endpoint', message: expect.stringMatching(/https:/) });
    }
    await services.applyConfig({ file: 'test.yaml', clusters: [], notifications: { subject: 'mailto:me@example.org', allowLoopbackHttpEndpoints: true } });
    try {
      for (const endpoint of loopback) {
        expect((await run(register, { input: { endpoint, ...browserKeys() } })).registerPushSubscription.__typename).toBe('MutationRegisterPushSubscriptionSuccess');
      }
      expect((await run(register, { input: { endpoint: 'http://push.example.net/send/1', ...browserKeys() } })).registerPushSubscription.__typename).toBe('ValidationError');
    } finally {
      await services.applyConfig({ file: 'test.yaml', clusters: [] });
    }
  });

  it('a device belongs to the token that registered it: other tokens neither see nor change it, and revoking the token removes it', async () => {
    const owner = await services.tokens.create('device-owner', { userId: 1 });
    const other = await services.tokens.create('other-device', { userId: 1 });
    const as = (name: string, id: number): Context['session'] => ({ tokenName: name, tokenId: id, readOnly: false, authRequired: true, userId: 1, admin: true });
    const runAs = async (session: Context['session'], source: string, variableValues: Record<string, unknown>) => {
      const result = await graphql({ schema, source, variableValues, contextValue: { em: orm.em.fork(), services, session } satisfies Context });
      expect(result.errors).toBeUndefined();
      return result.data as any;
    };
    const ownerId = (await orm.em.fork().findOneOrFail(ApiToken, { name: 'device-owner' })).id;
    const otherId = (await orm.em.fork().findOneOrFail(ApiToken, { name: 'other-device' })).id;
    expect(owner.info.name).toBe('device-owner');
    expect(other.info.name).toBe('other-device');
    const endpoint = 'https://push.example.net/send/owned';
    await runAs(as('device-owner', ownerId), register, { input: { endpoint, ...browserKeys() } });

    expect((await runAs(as('other-device', otherId), read, { endpoint })).pushDevice).toBeNull();
    expect((await runAs(as('other-device', otherId), update, { endpoint, pendingAfterMinutes: 5 })).updatePushSettings.__typename).toBe('NotFoundError');
    expect((await runAs(as('other-device', otherId), unregister, { endpoint })).unregisterPushSubscription.data).toBe(false);
    expect((await runAs(as('device-owner', ownerId), read, { endpoint })).pushDevice).toMatchObject({ endpoint, pendingAfterMinutes: null });

    await services.tokens.revoke('device-owner');
    expect(await orm.em.fork().count(PushSubscription, { endpoint })).toBe(0);
    await services.tokens.revoke('other-device');
  });

  it('refuses each bad value with a ValidationError naming its field', async () => {
    const keys = browserKeys();
    const offCurve = Buffer.from(keys.p256dh, 'base64url');
    offCurve[64]! ^= 1;
    const refusals: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ endpoint: 'not a url' }, 'endpoint', /not a URL/],
      [{ endpoint: 'http://push.example.net/send/1' }, 'endpoint', /https:/],
      [{ endpoint: 'ftp://push.example.net/send/1' }, 'endpoint', /https:/],
      [{ endpoint: 'https://user:secret@push.example.net/send/1' }, 'endpoint', /password/],
      [{ p256dh: keys.p256dh.slice(0, 40) }, 'p256dh', /65-byte/],
      [{ p256dh: offCurve.toString('base64url') }, 'p256dh', /P-256 curve/],
      [{ p256dh: `${keys.p256dh}!` }, 'p256dh', /base64url/],
      [{ auth: randomBytes(15).toString('base64url') }, 'auth', /16-byte/],
      [{ pendingAfterMinutes: 0 }, 'pendingAfterMinutes', /1 to 10080/],
      [{ pendingAfterMinutes: 10081 }, 'pendingAfterMinutes', /1 to 10080/],
      [{ mutedProjectIds: [projectId, 999] }, 'mutedProjectIds', /no project with id 999/],
    ];
    for (const [change, field, message] of refusals) {
      const { registerPushSubscription } = await run(register, { input: { endpoint: 'https://push.example.net/send/bad', ...keys, ...change } });
      expect(registerPushSubscription).toMatchObject({ __typename: 'ValidationError', field });
      expect(registerPushSubscription.message).toMatch(message);
    }
    expect((await run(read, { endpoint: 'https://push.example.net/send/bad' })).pushDevice).toBeNull();

    const missing = await run(update, { endpoint: 'https://push.example.net/send/unknown', pendingAfterMinutes: 5 });
    expect(missing.updatePushSettings.__typename).toBe('NotFoundError');
    const endpoint = 'https://push.example.net/send/device-2';
    await run(register, { input: { endpoint, ...keys } });
    expect((await run(update, { endpoint, pendingAfterMinutes: -3 })).updatePushSettings).toMatchObject({ __typename: 'ValidationError', field: 'pendingAfterMinutes' });
  });
});
