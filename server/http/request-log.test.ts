// The app's request and operation log, through the real HTTP server (a socket, not yoga.fetch: the request id and the
// access line live in the node handler).
import { Client, createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authHeaders, createTestToken } from '../../test/graphql-client.js';
import { refuseStream } from '../../test/fake-transport.js';
import { clusterConfig, type Config } from '../config.js';
import { initOrm, type Orm } from '../db/orm.js';
import { captureLogs } from '../lib/log.js';
import { createServices, type Services } from '../services.js';
import { createApp } from './app.js';

describe('request and operation log', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let url: string;
  let token: string;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const config: Config = { file: 'test.yaml', clusters: [clusterConfig('hpc', { host: 'hpc.example.edu', user: 'me', agent: true, connectTimeoutMs: 1000, commandTimeoutMs: 1000, keepaliveIntervalMs: 0, maxChannels: 4 })] };
    services = createServices({
      orm,
      config,
      clusters: { firstCheckWaitMs: 50, transportFactory: () => ({ exec: async () => ({ stdout: '', stderr: '', exitCode: 1, durationMs: 1 }), close: async () => undefined, stream: refuseStream }) },
    });
    app = createApp({ services });
    url = await app.start(0, '127.0.0.1');
    token = await createTestToken(services);
  });
  afterAll(async () => {
    await app.stop();
    await services.close();
    await orm.close();
  });
  afterEach(() => logs?.stop());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token), ...headers }, body: JSON.stringify(body) });

  it('logs an operation at info by name, type, duration and outcome, with the request id it echoes; never its variables', async () => {
    logs = captureLogs('debug');
    const response = await post({ query: 'query Find($s: String) { jobs(filter: { search: $s }) { nodes { id } } }', variables: { s: 'very-private-words' } }, { 'x-request-id': 'proxy-7f3a' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('proxy-7f3a');
    await response.json();
    const entries = logs.entries();
    expect(entries).toContainEqual(expect.objectContaining({ level: 'info', component: 'http', msg: 'operation', requestId: 'proxy-7f3a', operation: 'Find', type: 'query', outcome: 'ok', durationMs: expect.any(Number) }));
    expect(entries).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'request', requestId: 'proxy-7f3a', method: 'POST', path: '/graphql', status: 200 }));
    expect(logs.lines.join('')).not.toContain('very-private-words');
  });

  it('makes a request id when none or a strange one is sent; a document refused before it runs is logged at info', async () => {
    logs = captureLogs('info');
    const response = await post({ query: '{ nope }' }, { 'x-request-id': `a b <script>${'x'.repeat(200)}` });
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await response.json();
    expect(logs.entries()).toContainEqual(expect.objectContaining({ requestId: id, msg: 'operation', outcome: 'invalid', errorCodes: ['GRAPHQL_VALIDATION_FAILED'] }));
    const other = (await post({ query: '{ session { tokenName } }' })).headers.get('x-request-id');
    expect(other).toMatch(/^[0-9a-f-]{36}$/);
    expect(other).not.toBe(id);
  });

  it('logs a refused request at info, with its path and never its query string', async () => {
    logs = captureLogs('info');
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent('{ session { tokenName } }')}&variables=${encodeURIComponent('{"secret":"x"}')}`);
    expect(response.status).toBe(401);
    await response.text();
    const line = logs.entries().find((entry) => entry.msg === 'request');
    expect(line).toMatchObject({ level: 'info', path: '/graphql', status: 401 });
    expect(logs.lines.join('')).not.toContain('secret');
  });

  it('logs static files and probes at debug only', async () => {
    logs = captureLogs('info');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(logs.lines).toEqual([]);
  });

  const openSubscriptions = async () => /^mc_subscriptions_open (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];

  it('counts open subscriptions over SSE, until the client goes away', async () => {
    const stop = new AbortController();
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent('subscription { jobUpdated { id } }')}`, { headers: { accept: 'text/event-stream', ...authHeaders(token) }, signal: stop.signal });
    expect(response.status).toBe(200);
    await expect.poll(openSubscriptions).toBe('1');
    stop.abort();
    await expect.poll(openSubscriptions).toBe('0');
  });

  it('counts open subscriptions (WebSocket) for /metrics and logs each as an operation', async () => {
    logs = captureLogs('info');
    const client: Client = createClient({ url: url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: true });
    const metric = openSubscriptions;
    expect(await metric()).toBe('0');
    const stop = client.subscribe({ query: 'subscription Watch { jobUpdated { id } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    await expect.poll(metric).toBe('1');
    expect(logs.entries()).toContainEqual(expect.objectContaining({ msg: 'operation', operation: 'Watch', type: 'subscription', outcome: 'subscribed', requestId: expect.any(String) }));
    stop();
    await expect.poll(metric).toBe('0');
    await client.dispose();
  });
});
