// Access control over the three transports (HTTP, SSE, graphql-ws), on a real listening server with an in-memory
// database and one fake cluster whose transport counts the commands it is asked to run.
import * as crypto from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { authHeaders, createTestToken, wsConnectionParams } from '../../test/graphql-client.js';
import { createApp, MAX_REQUEST_BYTES } from './app.js';
import { planAccess } from '../access/pairing.js';
import { addressedToLoopback, isLoopbackHost } from '../access/session.js';
import { clusterConfig, defaultServerConfig, type Config } from '../config.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, ConfigError } from '../errors.js';
import { createServices, type Services } from '../services.js';
import { refuseStream } from '../../test/fake-transport.js';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const probeOutput = 'slurm 22.05.8\n--mission-control--\ngpu*|up|1|idle\n';
const clusterMutation = 'mutation { testClusterConnection(name: "fake") { __typename } }';

interface World {
  orm: Orm;
  services: Services;
  app: ReturnType<typeof createApp>;
  url: string;
  execs: () => number;
}

const KEY_PATH = join(homedir(), '.ssh', 'id_mission_control_test');

async function world(access: Parameters<typeof createApp>[0]['access'] = {}, failure?: string, staticDir?: string): Promise<World> {
  const orm = await initOrm(':memory:');
  let execs = 0;
  const cluster = clusterConfig('fake', { host: 'fake.example.edu', user: 'me', agent: true, identityFile: KEY_PATH, passwordFile: '/etc/mc/fake.password', keepaliveIntervalMs: 0 });
  const config: Config = { file: 'test.yaml', clusters: [cluster] };
  const services = createServices({
    orm,
    config,
    clusters: {
      transportFactory: () => ({
        exec: async () => {
          execs++;
          if (failure) throw new ClusterUnreachableError('fake', failure);
          return { stdout: probeOutput, stderr: '', exitCode: 0, durationMs: 1 };
        },
        close: async () => undefined,
        stream: refuseStream,
      }),
    },
  });
  const app = createApp({ services, access, staticDir });
  const url = await app.start(0, '127.0.0.1');
  return { orm, services, app, url, execs: () => execs };
}

async function stop(w: World | undefined) {
  if (!w) return;
  await w.app.stop();
  await w.services.close();
  await w.orm.close();
}

const post = (w: World, query: string, headers: Record<string, string> = {}) =>
  fetch(`${w.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });

const sse = (w: World, query: string, headers: Record<string, string> = {}) =>
  fetch(`${w.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream', ...headers } });

/** A POST with its own Host header (fetch always sends the URL's). */
function postWithHost(w: World, query: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${w.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', host, ...headers } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject);
    request.end(JSON.stringify({ query }));
  });
}

/** Runs one operation over graphql-ws; resolves with its result, or with the close code when the server hangs up. */
function overWebSocket(w: World, query: string, connectionParams?: Record<string, unknown>, headers?: Record<string, string>): Promise<{ result?: any; closeCode?: number }> {
  return new Promise((resolve) => {
    const client = createClient({
      url: `${w.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: headers
        ? class extends WebSocket {
            constructor(url: string, protocols?: string | string[]) {
              super(url, protocols, { headers });
            }
          }
        : WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams,
      on: { closed: (event) => resolve({ closeCode: (event as { code: number }).code }) },
    });
    let result: unknown;
    client.subscribe(
      { query },
      {
        next: (value) => (result = value),
        error: () => undefined,
        complete: () => {
          resolve({ result });
          void client.dispose();
        },
      },
    );
  });
}

describe('with tokens required (the default)', () => {
  let w: World;
  let token: string;
  let readOnly: string;
  beforeAll(async () => {
    w = await world();
    token = await createTestToken(w.services, { name: 'phone' });
    readOnly = await createTestToken(w.services, { name: 'dashboard', readOnly: true });
  });
  afterAll(() => stop(w));

  it('HTTP: refuses a request without a token, or with an unknown one, with 401 UNAUTHENTICATED', async () => {
    const refused: Array<Record<string, string>> = [{}, { authorization: 'Bearer mc_' + 'A'.repeat(43) }, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: token }];
    for (const headers of refused) {
      const response = await post(w, '{ session { tokenName } }', headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await response.json()) as any;
      expect(body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });
      expect(body.data).toBeUndefined();
    }
  });

  it('HTTP: answers with the session of a valid token, whatever the case of "Bearer"', async () => {
    const response = await post(w, '{ session { tokenName readOnly authRequired } }', { authorization: `bearer ${token}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { session: { tokenName: 'phone', readOnly: false, authRequired: true } } });
  });

  it('SSE: refuses a subscription stream without a token and serves one with it', async () => {
    const refused = await sse(w, '{ session { tokenName } }');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const served = await sse(w, '{ session { tokenName } }', authHeaders(token));
    expect(served.headers.get('content-type')).toContain('text/event-stream');
    expect(await served.text()).toContain('"session":{"tokenName":"phone"}');
  });

  it('WebSocket: closes a connection without a token, or with an unknown one, with 4401', async () => {
    expect(await overWebSocket(w, '{ session { tokenName } }')).toEqual({ closeCode: 4401 });
    expect(await overWebSocket(w, '{ session { tokenName } }', wsConnectionParams('mc_' + 'B'.repeat(43)))).toEqual({ closeCode: 4401 });
    expect(await overWebSocket(w, '{ session { tokenName } }', { authorization: 42 })).toEqual({ closeCode: 4401 });
  });

  it('WebSocket: runs operations for a valid token in connectionParams', async () => {
    expect(await overWebSocket(w, '{ session { tokenName readOnly } }', wsConnectionParams(token))).toEqual({ result: { data: { session: { tokenName: 'phone', readOnly: false } } } });
  });

  it('a read-only token reads over all three transports, and its mutations are FORBIDDEN and never run', async () => {
    const before = w.execs();
    const query = await post(w, '{ session { tokenName readOnly } }', authHeaders(readOnly));
    expect(await query.json()).toEqual({ data: { session: { tokenName: 'dashboard', readOnly: true } } });

    const http = (await (await post(w, clusterMutation, authHeaders(readOnly))).json()) as any;
    expect(http.data).toBeUndefined();
    expect(http.errors).toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' } })]);

    const overSse = await fetch(`${w.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders(readOnly) },
      body: JSON.stringify({ query: clusterMutation }),
    });
    expect(await overSse.text()).toContain('"code":"FORBIDDEN"');

    const ws = await overWebSocket(w, clusterMutation, wsConnectionParams(readOnly));
    expect(ws.result.errors).toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' } })]);
    expect((await overWebSocket(w, '{ session { readOnly } }', wsConnectionParams(readOnly))).result).toEqual({ data: { session: { readOnly: true } } });

    expect(w.execs()).toBe(before);
    // The same mutation with a read-write token does run.
    expect(await (await post(w, clusterMutation, authHeaders(token))).json()).toEqual({ data: { testClusterConnection: { __typename: 'MutationTestClusterConnectionSuccess' } } });
    expect(w.execs()).toBe(before + 1);
  });

  it('a read-only token manages its own push device over HTTP and WebSocket, and no other mutation rides along', async () => {
    const ecdh = crypto.createECDH('prime256v1');
    const keys = `p256dh: "${ecdh.generateKeys().toString('base64url')}", auth: "${crypto.randomBytes(16).toString('base64url')}"`;
    const endpoint = 'https://push.example.net/send/read-only-phone';
    const register = `mutation { registerPushSubscription(input: { endpoint: "${endpoint}", ${keys} }) { __typename ... on MutationRegisterPushSubscriptionSuccess { data { endpoint } } } }`;
    const body = async (query: string) => (await (await post(w, query, authHeaders(readOnly))).json()) as any;

    expect(await body(register)).toEqual({ data: { registerPushSubscription: { __typename: 'MutationRegisterPushSubscriptionSuccess', data: { endpoint } } } });
    const settings = `mutation { updatePushSettings(endpoint: "${endpoint}", pendingAfterMinutes: 30) { ... on MutationUpdatePushSettingsSuccess { data { pendingAfterMinutes } } } }`;
    expect((await overWebSocket(w, settings, wsConnectionParams(readOnly))).result).toEqual({ data: { updatePushSettings: { data: { pendingAfterMinutes: 30 } } } });

    // Beside an allowed one, through a named or an inline fragment: the whole operation is refused and nothing runs.
    const before = w.execs();
    const smuggled = [
      `mutation { unregisterPushSubscription(endpoint: "${endpoint}") { __typename } testClusterConnection(name: "fake") { __typename } }`,
      `mutation { ...Both } fragment Both on Mutation { unregisterPushSubscription(endpoint: "${endpoint}") { __typename } testClusterConnection(name: "fake") { __typename } }`,
      `mutation { ... on Mutation { syncProject(id: 1) { __typename } } }`,
    ];
    for (const query of smuggled) {
      const refused = await body(query);
      expect(refused.data, query).toBeUndefined();
      expect(refused.errors, query).toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' } })]);
    }
    expect(w.execs()).toBe(before);
    expect(await w.services.notify.device(w.orm.em.fork(), endpoint, null)).toMatchObject({ endpoint, pendingAfterMinutes: 30 });

    const unregister = `mutation { unregisterPushSubscription(endpoint: "${endpoint}") { ... on MutationUnregisterPushSubscriptionSuccess { data } } }`;
    expect(await body(unregister)).toEqual({ data: { unregisterPushSubscription: { data: true } } });
    expect(await w.services.notify.device(w.orm.em.fork(), endpoint, null)).toBeNull();
  });

  it('a revoked token is refused at once over HTTP, SSE and WebSocket', async () => {
    const doomed = await createTestToken(w.services, { name: 'lost-phone' });
    expect((await post(w, '{ session { tokenName } }', authHeaders(doomed))).status).toBe(200);
    await w.services.tokens.revoke('lost-phone');
    expect((await post(w, '{ session { tokenName } }', authHeaders(doomed))).status).toBe(401);
    expect((await sse(w, '{ session { tokenName } }', authHeaders(doomed))).status).toBe(401);
    expect(await overWebSocket(w, '{ session { tokenName } }', wsConnectionParams(doomed))).toEqual({ closeCode: 4401 });
  });

  it('closes an open socket with 4401 at its next operation once its token is revoked', async () => {
    const doomed = await createTestToken(w.services, { name: 'open-socket' });
    const closed = new Promise<number>((resolve) => {
      const client = createClient({
        url: `${w.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        // One socket for both operations: a lazy client would close it in between.
        lazy: false,
        // Expected here; graphql-ws would print the close event.
        onNonLazyError: () => undefined,
        connectionParams: wsConnectionParams(doomed),
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      const run = (then: () => void) => client.subscribe({ query: '{ session { tokenName } }' }, { next: () => undefined, error: () => undefined, complete: then });
      run(() => void w.services.tokens.revoke('open-socket').then(() => run(() => undefined)));
    });
    expect(await closed).toBe(4401);
  });

  it('compares token hashes in constant time, against every stored token, without stopping at the match', async () => {
    const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
    const stored = (await w.services.tokens.list()).length;
    timingSafeEqual.mockClear();
    expect(await w.services.tokens.verify(token)).toEqual({ id: expect.any(Number), name: 'phone', readOnly: false, userId: 1, admin: true });
    expect(timingSafeEqual).toHaveBeenCalledTimes(stored);
    timingSafeEqual.mockClear();
    expect(await w.services.tokens.verify(`mc_${'C'.repeat(43)}`)).toBeNull();
    expect(timingSafeEqual).toHaveBeenCalledTimes(stored);
  });

  it('stores only the SHA-256 of a token, never the token', async () => {
    const fresh = await createTestToken(w.services, { name: 'stored' });
    expect(fresh).toMatch(/^mc_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(fresh.slice(3), 'base64url')).toHaveLength(32);
    const rows = await w.orm.em.getConnection().execute(`select * from api_token where name = 'stored'`);
    expect(rows).toHaveLength(1);
    const columns = Object.values(rows[0] as Record<string, unknown>).map(String);
    expect(columns.some((value) => value.includes(fresh) || value.includes(fresh.slice(3)))).toBe(false);
    expect((rows[0] as { token_hash: string }).token_hash).toBe(crypto.createHash('sha256').update(fresh).digest('hex'));
  });

  it('records the last use, writing at most once a minute per token', async () => {
    const fresh = await createTestToken(w.services, { name: 'used' });
    const lastUsed = async () => (await w.services.tokens.list()).find((t) => t.name === 'used')!.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    await post(w, '{ session { tokenName } }', authHeaders(fresh));
    await expect.poll(lastUsed).not.toBeNull();
    const first = (await lastUsed())!.getTime();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await post(w, '{ session { tokenName } }', authHeaders(fresh));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await lastUsed())!.getTime()).toBe(first);
  });

  it('refuses a body over the size limit with 413, and sends no CORS headers when no origin is configured', async () => {
    const big = await fetch(`${w.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ query: `{ session { tokenName } } # ${'x'.repeat(MAX_REQUEST_BYTES)}` }),
    });
    expect(big.status).toBe(413);
    const crossSite = await post(w, '{ session { tokenName } }', { ...authHeaders(token), origin: 'https://evil.example' });
    expect(crossSite.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('masks errors that are not our typed results (they may name files on the server)', async () => {
    const list = w.services.clusters.list;
    w.services.clusters.list = async () => {
      throw new Error('ENOENT: /home/me/.ssh/id_ed25519');
    };
    try {
      const body = (await (await post(w, '{ clusters { name } }', authHeaders(token))).json()) as any;
      expect(JSON.stringify(body)).not.toContain('id_ed25519');
      expect(body.errors[0].message).toBe('Unexpected error.');
    } finally {
      w.services.clusters.list = list;
    }
  });

  it('exposes no field that could carry a key path, password, token or private key', async () => {
    const body = (await (await post(w, '{ __schema { types { name fields { name } inputFields { name } } } }', authHeaders(token))).json()) as any;
    const names = body.data.__schema.types.flatMap((type: any) => [...(type.fields ?? []), ...(type.inputFields ?? [])].map((field: any) => `${type.name}.${field.name}`));
    expect(names.length).toBeGreaterThan(100);
    expect(names.filter((name: string) => /identityFile|knownHosts|password|passphrase|privateKey|secret|tokenHash|\.token$|vapidPrivate/i.test(name))).toEqual([]);
  });
});

describe('paths of key, password and known_hosts files', () => {
  let w: World;
  let token: string;
  // What ssh says when a key file went missing, with the path spelt both ways, and a password file.
  const failure = `Warning: Identity file ${KEY_PATH} not accessible; also tried ~/.ssh/id_mission_control_test, ~/.ssh/known_hosts and /etc/mc/fake.password`;
  beforeAll(async () => {
    w = await world({}, failure);
    token = await createTestToken(w.services);
  });
  afterAll(() => stop(w));

  it('never leave the server in a result, over HTTP and in a subscription event over WebSocket', async () => {
    const event = new Promise<any>((resolve) => {
      const client = createClient({ url: `${w.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: wsConnectionParams(token) });
      client.subscribe({ query: 'subscription { clusterStatus { name error } }' }, {
        next: (value) => {
          resolve(value);
          void client.dispose();
        },
        error: () => undefined,
        complete: () => undefined,
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const body = await (await post(w, 'mutation { testClusterConnection(name: "fake") { ... on MutationTestClusterConnectionSuccess { data { error } } } }', authHeaders(token))).json();
    const expected = 'fake: Warning: Identity file <identityFile> not accessible; also tried <identityFile>, <knownHostsFile> and <passwordFile>';
    expect(body).toEqual({ data: { testClusterConnection: { data: { error: expected } } } });
    expect(await event).toEqual({ data: { clusterStatus: { name: 'fake', error: expected } } });
  });
});

describe('the app itself', () => {
  let w: World;
  beforeAll(async () => {
    const staticDir = mkdtempSync(join(tmpdir(), 'mc-static-'));
    writeFileSync(join(staticDir, 'index.html'), '<title>Mission Control</title>');
    writeFileSync(join(staticDir, 'manifest.webmanifest'), '{"name":"Mission Control"}');
    writeFileSync(join(staticDir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    w = await world({}, undefined, staticDir);
  });
  afterAll(() => stop(w));

  it('serves its pages, manifest and service worker without a token (a phone loads it to pair), and only /graphql asks for one', async () => {
    for (const path of ['/', '/pair', '/manifest.webmanifest', '/sw.js']) expect((await fetch(`${w.url}${path}`)).status, path).toBe(200);
    expect((await post(w, '{ session { tokenName } }')).status).toBe(401);
  });

  it('sends a strict Content-Security-Policy and the other security headers with its pages and the API', async () => {
    for (const response of [await fetch(`${w.url}/`), await fetch(`${w.url}/sw.js`), await post(w, '{ session { tokenName } }'), await fetch(`${w.url}/nothing-here.js`)]) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, response.url).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('answers a malformed Host header with a plain 400, before authentication, over HTTP and WebSocket upgrades', async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(w.url).port), '127.0.0.1', () => socket.end(request));
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    for (const host of ['a b', 'a/b', '[::1', 'x:99999999', 'a@b', '%00']) {
      const http = await raw(`POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
      expect(http, host).toMatch(/^HTTP\/1\.1 400 /);
      expect(http).not.toMatch(/ at |\.ts|\/work|node_modules/);
      const page = await raw(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(page, host).toMatch(/^HTTP\/1\.1 400 /);
      const upgrade = await raw(
        `GET /graphql HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
      );
      expect(upgrade, host).toMatch(/^HTTP\/1\.1 400 /);
    }
    // The server is still answering.
    expect((await fetch(`${w.url}/`)).status).toBe(200);
  });
});

describe('with tokens opted out on loopback', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({ allowWithoutToken: true });
  });
  afterAll(() => stop(w));

  it('answers a request without a token on every transport, with an anonymous session', async () => {
    const http = await post(w, '{ session { tokenName readOnly authRequired } }');
    expect(await http.json()).toEqual({ data: { session: { tokenName: null, readOnly: false, authRequired: false } } });
    // Without a token, a GET names the CSRF header, as any script must (server/hardening.test.ts).
    expect(await (await sse(w, '{ session { tokenName } }', { 'x-graphql-yoga-csrf': '1' })).text()).toContain('"session":{"tokenName":null}');
    expect((await overWebSocket(w, '{ session { tokenName } }')).result).toEqual({ data: { session: { tokenName: null } } });
  });

  it('refuses a request without a token addressed by another name (DNS rebinding), on every transport', async () => {
    const rebound = 'attacker.example:8080';
    const http = await postWithHost(w, '{ session { tokenName } }', rebound);
    expect(http.status).toBe(401);
    expect(http.body).toContain('addressed to it by a loopback name');
    expect((await postWithHost(w, '{ session { tokenName } }', `localhost:${new URL(w.url).port}`)).status).toBe(200);
    expect(await overWebSocket(w, '{ session { tokenName } }', undefined, { host: rebound })).toEqual({ closeCode: 4401 });
    // A token is worth the same under any name: a phone through a tunnel uses one.
    const token = await createTestToken(w.services);
    expect((await postWithHost(w, '{ session { tokenName } }', rebound, authHeaders(token))).status).toBe(200);
  });

  it('knows which Host values name this machine', () => {
    for (const host of ['127.0.0.1:4000', 'localhost', 'LOCALHOST:1', '[::1]:4000', 'app.localhost:4000', '127.1.2.3', undefined]) expect(addressedToLoopback(host), String(host)).toBe(true);
    for (const host of ['attacker.example', '127.0.0.1.nip.io', 'localhost.attacker.example:4000', '10.0.0.1', '[::2]', 'a b']) expect(addressedToLoopback(host), host).toBe(false);
  });

  it('still refuses a token it does not know, and keeps a read-only token read-only', async () => {
    expect((await post(w, '{ session { tokenName } }', { authorization: `Bearer mc_${'D'.repeat(43)}` })).status).toBe(401);
    const readOnly = await createTestToken(w.services, { readOnly: true });
    expect(((await (await post(w, clusterMutation, authHeaders(readOnly))).json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('CORS for configured origins only', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({ corsOrigins: ['https://app.example.org', 'https://other.example.org'] });
  });
  afterAll(() => stop(w));

  it('answers a preflight from a configured origin and names no other origin', async () => {
    const preflight = await fetch(`${w.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const evil = await fetch(`${w.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });
});

describe('planAccess', () => {
  const tokens = (count: number) => ({ count: async () => count });
  const options = (host: string, auth: Partial<typeof defaultServerConfig.auth> = {}) => ({
    server: { ...defaultServerConfig, auth: { ...defaultServerConfig.auth, ...auth } },
    host,
    configPath: '/etc/mc/clusters.yaml',
    dataDir: 'data',
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '', '192.168.1.5', '10.0.0.1', 'example.org', '127.0.0.1.example.org'].some(isLoopbackHost)).toBe(false);
  });

  it('requires tokens by default, on loopback too, and makes the first one when none exists', async () => {
    expect(await planAccess(tokens(0), options('127.0.0.1'))).toEqual({ required: true, createFirstToken: true });
    expect(await planAccess(tokens(2), options('0.0.0.0'))).toEqual({ required: true, createFirstToken: false });
  });

  it('allows the opt-out on loopback only', async () => {
    expect(await planAccess(tokens(0), options('127.0.0.1', { allowLoopbackWithoutToken: true }))).toEqual({ required: false, createFirstToken: false });
    await expect(planAccess(tokens(5), options('0.0.0.0', { allowLoopbackWithoutToken: true }))).rejects.toThrow(ConfigError);
    await expect(planAccess(tokens(5), options('0.0.0.0', { allowLoopbackWithoutToken: true }))).rejects.toThrow(/allowLoopbackWithoutToken .*--host is 0\.0\.0\.0: remove it .* or bind to 127\.0\.0\.1/);
  });

  it('refuses to listen beyond loopback with no token and no way to make one', async () => {
    await expect(planAccess(tokens(0), options('0.0.0.0', { createTokenAtFirstStart: false }))).rejects.toThrow(/no API token exists .*npm run token -- create --name phone/);
    expect(await planAccess(tokens(0), options('127.0.0.1', { createTokenAtFirstStart: false }))).toEqual({ required: true, createFirstToken: false });
    expect(await planAccess(tokens(1), options('0.0.0.0', { createTokenAtFirstStart: false }))).toEqual({ required: true, createFirstToken: false });
  });
});
