// The README's reverse proxy, run as written: config/Caddyfile in front of a real server, with a local certificate in
// place of the one Caddy would obtain by ACME. Through it a phone gets the API over HTTPS, the WebSocket and an SSE
// stream that delivers each event at once (a proxy that buffers would hold a job's end until the stream closes).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ClusterStatus } from '../server/clusters/service.js';
import { startServer } from '../server/main.js';
import { freePort } from './free-port.js';
import { createTestToken } from './graphql-client.js';
import { selfSigned, type SelfSigned } from './self-signed.js';

const CADDY = '/usr/bin/caddy';
const present = existsSync(CADDY);
if (!present && process.env.CI) throw new Error(`reverse proxy suite: no Caddy at ${CADDY} (apt-get install caddy; test/prepare.sh does)`);

describe.skipIf(!present)('the server behind Caddy (config/Caddyfile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-caddy-'));
  let running: Awaited<ReturnType<typeof startServer>>;
  let caddy: ChildProcess;
  let certificate: SelfSigned;
  let token: string;
  let origin: string;

  beforeAll(async () => {
    const configPath = join(dir, 'clusters.yaml');
    writeFileSync(configPath, 'clusters: {}\n');
    running = await startServer({ configPath, dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir: dir });
    token = await createTestToken(running.services, { name: 'behind-caddy' });
    certificate = selfSigned(dir, 'proxy', ['127.0.0.1']);
    const port = await freePort();
    origin = `https://127.0.0.1:${port}`;
    const upstream = new URL(running.url).host;
    // The file as the README gives it; only the site's name, the upstream's port and the certificate differ. The global
    // block turns off what a test machine must not do (the admin API on :2019, the HTTP-to-HTTPS redirect on :80).
    const caddyfile = readFileSync(resolve('config/Caddyfile'), 'utf8')
      .replace(/^mc\.example\.org \{$/m, `${origin} {\n\ttls ${certificate.certFile} ${certificate.keyFile}`)
      .replace(/127\.0\.0\.1:4000/, upstream);
    expect(caddyfile).toContain(`reverse_proxy ${upstream}`);
    writeFileSync(join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system ${dir}/caddy\n}\n${caddyfile}`);
    caddy = spawn(CADDY, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    caddy.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    for (const deadline = Date.now() + 15_000; ; ) {
      if ((await ask('{ __typename }').then((answer) => answer.status, () => 0)) === 200) break;
      if (Date.now() > deadline || caddy.exitCode !== null) throw new Error(`Caddy did not serve the API:\n${log}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }, 60_000);

  afterAll(async () => {
    caddy?.kill();
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsTo = (): RequestOptions => ({ ca: certificate.cert, agent: false });

  function ask(query: string): Promise<{ status: number; body: string }> {
    return new Promise((done, fail) => {
      const req = request(`${origin}/graphql`, { ...tlsTo(), method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end(JSON.stringify({ query }));
    });
  }

  const status = (name: string) => ({ name, userId: 1 }) as unknown as ClusterStatus;

  it('answers GraphQL over HTTPS', async () => {
    expect(await ask('{ __typename }')).toEqual({ status: 200, body: '{"data":{"__typename":"Query"}}' });
  });

  it('delivers each event of an SSE stream at once', async () => {
    const received: string[] = [];
    const req = request(`${origin}/graphql?query=${encodeURIComponent('subscription { clusterStatus { name } }')}`, { ...tlsTo(), headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    const opened = new Promise<void>((done, fail) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8').on('data', (chunk: string) => received.push(...[...chunk.matchAll(/"name":"([^"]+)"/g)].map((match) => match[1]!)));
        done();
      });
      req.on('error', fail);
    });
    req.end();
    await opened;
    try {
      // The stream is open before the subscription is: publish until the first arrives, then one more, which must
      // arrive while the stream stays open.
      await expect.poll(() => (running.services.events.publish('cluster:status', status('first')), received.includes('first')), { timeout: 5_000 }).toBe(true);
      running.services.events.publish('cluster:status', status('second'));
      await expect.poll(() => received.includes('second'), { timeout: 2_000 }).toBe(true);
    } finally {
      req.destroy();
    }
  });

  it("carries the app's WebSocket (graphql-ws) with its token", async () => {
    const socket = new WebSocket(`${origin.replace('https', 'wss')}/graphql`, 'graphql-transport-ws', { ca: certificate.cert });
    const messages: Array<{ type: string; payload?: { data?: { clusterStatus?: { name: string } } } }> = [];
    socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((done, fail) => socket.once('open', done).once('error', fail));
    try {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      await expect.poll(() => messages.map((message) => message.type)).toContain('connection_ack');
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { clusterStatus { name } }' } }));
      await expect
        .poll(() => (running.services.events.publish('cluster:status', status('over-ws')), messages.find((message) => message.type === 'next')?.payload?.data?.clusterStatus?.name), { timeout: 5_000 })
        .toBe('over-ws');
    } finally {
      socket.close();
    }
  });
});
