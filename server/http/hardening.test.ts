// The GraphQL hardening of server/app.ts on a real listening server: graphql-armor's document limits over HTTP, SSE
// and WebSocket (graphql-ws goes through yoga.getEnveloped, so the same plugins apply), CSRF prevention for simple
// cross-site requests, and cross-site WebSockets on a server without tokens. The limits are checked against every
// document the phone app sends and the README's notebook snippet, so they can never refuse our own client.
import { readFileSync } from 'node:fs';
import { getIntrospectionQuery, parse, type GraphQLError } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { authHeaders, createTestToken, wsConnectionParams } from '../../test/graphql-client.js';
import { createApp, QUERY_LIMITS } from './app.js';
import { clusterConfig } from '../config.js';
import { initOrm, type Orm } from '../db/orm.js';
import { createServices, type Services } from '../services.js';
import { refuseStream } from '../../test/fake-transport.js';

const probeOutput = 'slurm 22.05.8\n--mission-control--\ngpu*|up|1|idle\n';

interface World {
  orm: Orm;
  services: Services;
  app: ReturnType<typeof createApp>;
  url: string;
  execs: () => number;
}

async function world(access: Parameters<typeof createApp>[0]['access'] = {}): Promise<World> {
  const orm = await initOrm(':memory:');
  let execs = 0;
  const services = createServices({
    orm,
    config: { file: 'test.yaml', clusters: [clusterConfig('fake', { host: 'fake.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })] },
    clusters: {
      transportFactory: () => ({
        exec: async () => {
          execs++;
          return { stdout: probeOutput, stderr: '', exitCode: 0, durationMs: 1 };
        },
        close: async () => undefined,
        stream: refuseStream,
      }),
    },
  });
  const app = createApp({ services, access });
  const url = await app.start(0, '127.0.0.1');
  return { orm, services, app, url, execs: () => execs };
}

async function stop(w: World | undefined) {
  if (!w) return;
  await w.app.stop();
  await w.services.close();
  await w.orm.close();
}

const post = async (w: World, query: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${w.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
};

/** One operation over graphql-ws: its result, the errors it was refused with, or the close code of the socket. */
function overWebSocket(w: World, query: string, options: { connectionParams?: Record<string, unknown>; origin?: string } = {}) {
  return new Promise<{ result?: any; errors?: Array<{ message: string }>; closeCode?: number }>((resolve) => {
    const { origin } = options;
    const client = createClient({
      url: `${w.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: origin
        ? class extends WebSocket {
            constructor(address: string, protocols?: string | string[]) {
              super(address, protocols, { origin });
            }
          }
        : WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: options.connectionParams,
      on: { closed: (event) => resolve({ closeCode: (event as { code: number }).code }) },
    });
    let result: unknown;
    client.subscribe(
      { query },
      {
        next: (value) => (result = value),
        error: (errors) => {
          resolve({ errors: errors as Array<{ message: string }> });
          void client.dispose();
        },
        complete: () => {
          resolve({ result });
          void client.dispose();
        },
      },
    );
  });
}

/** Nested inline fragments on Query: valid GraphQL whose depth only a depth limit refuses. */
const nested = (levels: number) => `{ ${'... on Query { '.repeat(levels)}session { tokenName }${' }'.repeat(levels)} }`;
const aliases = (count: number, field = 'session { tokenName }') => `{ ${Array.from({ length: count }, (_, index) => `a${index}: ${field}`).join(' ')} }`;

// Each refused the same way on every transport: a message naming the limit, nothing executed.
const hostile = [
  { what: 'nesting deeper than the limit', query: nested(QUERY_LIMITS.maxDepth.n), message: /^Syntax Error: Query depth limit of 10 exceeded, found 12\.$/, code: 'GRAPHQL_VALIDATION_FAILED' },
  { what: '1000 aliases', query: aliases(1000), message: /^Syntax Error: Token limit of 1000 exceeded\.$/, code: 'GRAPHQL_PARSE_FAILED' },
  { what: 'aliases past the limit, in few tokens', query: aliases(QUERY_LIMITS.maxAliases.n + 1, '__typename x: session { tokenName }').replace(/a\d+: __typename /g, ''), message: /^Syntax Error: Aliases limit of 15 exceeded, found 16\.$/, code: 'GRAPHQL_VALIDATION_FAILED' },
  // Half a megabyte: under the body size limit, which would refuse it first.
  { what: 'a huge token count', query: `{ ${'__typename '.repeat(50_000)}}`, message: /^Syntax Error: Token limit of 1000 exceeded\.$/, code: 'GRAPHQL_PARSE_FAILED' },
  {
    what: 'a costly list of lists',
    query: aliases(3, 'jobs(first: 200) { nodes { project { id name localPath originUrl branch headSha headSubject dirty pushed syncedAt } } }'),
    message: /^Syntax Error: Query Cost limit of 25000 exceeded, found \d+(\.\d+)?\.$/,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  { what: 'directives past the limit', query: `{ session { ${'tokenName @include(if: true) '.repeat(11)}} }`, message: /^Syntax Error: Directives limit of 10 exceeded, found 11\.$/, code: 'GRAPHQL_VALIDATION_FAILED' },
];

describe('query limits', () => {
  let w: World;
  let token: string;
  beforeAll(async () => {
    w = await world();
    token = await createTestToken(w.services, { name: 'phone' });
  });
  afterAll(() => stop(w));

  it("let every document of the phone app, the README's notebook snippet and the introspection query through", async () => {
    // The app's documents are declared through graphql() as its modules load; graphql-ws wants a WebSocket class then.
    vi.stubGlobal('WebSocket', WebSocket);
    // By a path in a variable: the client is type-checked by its own tsconfig (bundler resolution), not this one.
    const clientModule = '../../client/src/api/client.ts';
    const { declaredDocuments } = (await import(clientModule)) as { declaredDocuments: () => string[] };
    await Promise.all(['clusters', 'jobs', 'launch', 'projects', 'push', 'session', 'sweeps'].map((module) => import(`../../client/src/api/${module}.ts`)));
    vi.unstubAllGlobals();
    const readme = readFileSync('README.md', 'utf8');
    const snippet = [...readme.matchAll(/(?:graphql\(|query = )'([^']+)'/g)].map((match) => match[1]!);
    expect(snippet.length).toBeGreaterThanOrEqual(2);
    const documents = [...declaredDocuments(), ...snippet, getIntrospectionQuery()];
    expect(documents.length).toBeGreaterThan(25);

    const { parse: parseEnveloped, validate, schema } = w.app.yoga.getEnveloped({});
    const refused = documents.flatMap((document) => validate(schema, parseEnveloped(document)).map((error: GraphQLError) => `${document.replace(/\s+/g, ' ').slice(0, 60)}…: ${error.message}`));
    expect(refused).toEqual([]);
    // And the same over the wire, where it counts: Home's two long job lists, the largest cost of the app.
    const home = declaredDocuments().find((document) => document.includes('query HomeJobs'))!;
    const answer = await fetch(`${w.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify({ query: home, variables: { active: ['RUNNING'] } }) });
    expect(await answer.json()).toEqual({ data: { recent: { nodes: [] }, active: { nodes: [] } } });
  });

  it.each(hostile)('refuse $what over HTTP, and run nothing', async ({ query, message, code }) => {
    // Well-formed GraphQL: only a limit refuses it.
    expect(parse(query, { maxTokens: 200_000 })).toBeTruthy();
    const before = w.execs();
    const { body } = await post(w, query, authHeaders(token));
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(message);
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
    expect(w.execs()).toBe(before);
  });

  it.each(hostile)('refuse $what over SSE', async ({ query, message }) => {
    const response = await fetch(`${w.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders(token) },
      body: JSON.stringify({ query }),
    });
    const events = (await response.text()).split('\n').filter((line) => line.startsWith('data: {'));
    expect(events).toHaveLength(1);
    const event = JSON.parse(events[0]!.slice(6)) as { data?: unknown; errors: Array<{ message: string }> };
    expect(event.data).toBeUndefined();
    expect(event.errors[0]!.message).toMatch(message);
  });

  it.each(hostile)('refuse $what over WebSocket as that operation\'s error: the socket serves the next one', async ({ query, message }) => {
    const closes: number[] = [];
    const client = createClient({
      url: `${w.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: wsConnectionParams(token),
      on: { closed: (event) => void closes.push((event as { code: number }).code) },
    });
    const run = (source: string) =>
      new Promise<{ result?: any; errors?: Array<{ message: string }> }>((resolve) => {
        let result: unknown;
        client.subscribe({ query: source }, { next: (value) => (result = value), error: (errors) => resolve({ errors: errors as Array<{ message: string }> }), complete: () => resolve({ result }) });
      });
    try {
      expect((await run(query)).errors?.[0]?.message).toMatch(message);
      expect(await run('{ session { tokenName } }')).toEqual({ result: { data: { session: { tokenName: 'phone' } } } });
      expect(closes).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('refuse 16 aliases of a mutation that reaches the cluster before any of them runs', async () => {
    const before = w.execs();
    const { body } = await post(w, `mutation ${aliases(16, 'testClusterConnection(name: "fake") { __typename }')}`, authHeaders(token));
    expect(body.errors?.[0]?.message).toBe('Syntax Error: Aliases limit of 15 exceeded, found 16.');
    expect(w.execs()).toBe(before);
  });

  it('keep field suggestions (introspection tells the same to the same callers) and typed errors', async () => {
    expect((await post(w, '{ sesion { tokenName } }', authHeaders(token))).body.errors?.[0]?.message).toBe('Cannot query field "sesion" on type "Query". Did you mean "session"?');
    expect((await post(w, '{ cluster(name: "nowhere") { __typename ... on Error { message } } }', authHeaders(token))).body).toEqual({
      data: { cluster: { __typename: 'NotFoundError', message: 'no cluster named "nowhere" in the configuration' } },
    });
  });
});

describe('cross-site requests', () => {
  const mutation = 'mutation { testClusterConnection(name: "fake") { __typename } }';
  let open: World;
  let guarded: World;
  let token: string;
  beforeAll(async () => {
    // The case CSRF prevention is for: no token to steal, only the browser's position on the user's machine.
    open = await world({ allowWithoutToken: true });
    guarded = await world();
    token = await createTestToken(guarded.services, { name: 'phone' });
  });
  afterAll(async () => {
    await stop(open);
    await stop(guarded);
  });

  it('refuses, with 403 and nothing run, the requests a page on another site can send without a preflight', async () => {
    const simple: Array<{ method: string; headers?: Record<string, string>; body?: string; path?: string }> = [
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${encodeURIComponent(mutation)}` },
      { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: JSON.stringify({ query: mutation }) },
      { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: `--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n${mutation}\r\n--x--\r\n` },
      { method: 'GET', path: `?query=${encodeURIComponent('{ session { tokenName } }')}` },
      { method: 'GET', headers: { accept: 'text/event-stream' }, path: `?query=${encodeURIComponent('{ session { tokenName } }')}` },
    ];
    const before = open.execs();
    for (const { method, headers, body, path = '' } of simple) {
      const response = await fetch(`${open.url}/graphql${path}`, { method, headers: { origin: 'https://evil.example', ...headers }, body });
      const answer = await response.text();
      expect(response.status, `${method} ${headers?.['content-type'] ?? ''}: ${answer}`).toBe(403);
      expect(answer).toContain('Required CSRF header(s) not present');
    }
    expect(open.execs()).toBe(before);
    // With tokens required the same requests carry none, and are refused before that.
    const form = await fetch(`${guarded.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${encodeURIComponent(mutation)}` });
    expect(form.status).toBe(401);
  });

  it("serves the app's own requests: JSON posts with or without a token, the notebook's SSE with its token", async () => {
    // As urql sends them (client/src/api/client.ts), and session.ts's token check.
    const app = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed' };
    expect((await post(open, '{ session { tokenName } }', app)).body).toEqual({ data: { session: { tokenName: null } } });
    expect((await post(guarded, '{ session { tokenName } }', { ...app, ...authHeaders(token) })).body).toEqual({ data: { session: { tokenName: 'phone' } } });
    const sse = await fetch(`${guarded.url}/graphql?query=${encodeURIComponent('{ session { tokenName } }')}`, { headers: { accept: 'text/event-stream', ...authHeaders(token) } });
    expect(await sse.text()).toContain('"session":{"tokenName":"phone"}');
    // A script without a token and without JSON can name the header instead.
    const named = await fetch(`${open.url}/graphql?query=${encodeURIComponent('{ session { tokenName } }')}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(named.status).toBe(200);
  });

  it('closes a WebSocket without a token from another site with 4403, and serves the app and non-browser clients', async () => {
    expect(await overWebSocket(open, '{ session { tokenName } }', { origin: 'https://evil.example' })).toEqual({ closeCode: 4403 });
    expect((await overWebSocket(open, '{ session { tokenName } }', { origin: open.url })).result).toEqual({ data: { session: { tokenName: null } } });
    expect((await overWebSocket(open, '{ session { tokenName } }')).result).toEqual({ data: { session: { tokenName: null } } });
    // A token is what a page on another site cannot have: with one, the origin does not matter (an app behind a proxy).
    expect((await overWebSocket(guarded, '{ session { tokenName } }', { origin: 'https://tunnel.example', connectionParams: wsConnectionParams(token) })).result).toEqual({
      data: { session: { tokenName: 'phone' } },
    });
  });
});
