import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEngine } from '../../test/database-engine.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../access/tokens.js';
import { initOrm, type Orm } from '../db/orm.js';
import { captureLogs } from '../lib/log.js';
import { createPrometheus } from '../lib/prometheus.js';
import { createOperationsRoutes, type OperationsOptions } from './health.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-health-'));
const file = join(dir, 'mission-control.sqlite');
let orm: Orm;
let tokens: ReturnType<typeof createTokenService>;
const servers: Server[] = [];

beforeAll(async () => {
  orm = await initOrm(file);
  tokens = createTokenService({ orm });
});
afterAll(async () => {
  for (const server of servers) server.close();
  tokens.revocation.close();
  await orm.close();
  rmSync(dir, { recursive: true, force: true });
});

const clusters = [
  { name: 'hpc', reachable: true, stale: false, needsReauth: false },
  { name: 'down', reachable: false, stale: true, needsReauth: false },
  { name: 'mfa', reachable: null, stale: false, needsReauth: true },
];

/** A real HTTP server that answers only these routes (404 otherwise), listening on `host`. */
async function serve(overrides: Partial<OperationsOptions> = {}, host = '127.0.0.1'): Promise<string> {
  const prometheus = createPrometheus();
  prometheus.setSources({ clusters: () => clusters, jobsByState: async () => [{ state: 'RUNNING', count: 2 }] });
  const routes = createOperationsRoutes({ orm, clusters: { known: () => clusters }, poller: { running: () => true }, tokens, prometheus, metricsAccess: 'loopback', ...overrides });
  const server = createServer((req, res) => {
    if (!routes.handle(req, res, (req.url ?? '/').split('?')[0]!)) {
      res.statusCode = 404;
      res.end();
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

describe('GET /healthz', () => {
  it('answers 200 after a committed write reached the database (its WAL grew)', async () => {
    const url = await serve();
    // SQLite's proof is a committed write, so its WAL grows; PostgreSQL's is the server's word that it takes writes.
    const wal = () => (testEngine === 'sqlite' ? statSync(`${file}-wal`).size : 0);
    const before = wal();
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'ok' });
    if (testEngine === 'sqlite') expect(wal()).toBeGreaterThan(before);
  });

  // SQLite's write lock; a PostgreSQL server has no lock that stops every write (its refusal of writes is in orm.test.ts).
  it.skipIf(testEngine === 'postgresql')('answers 503 when the database cannot take a write (another process holds the write lock), saying no more than that', async () => {
    const url = await serve();
    const other = await initOrm(file);
    const logs = captureLogs('error');
    try {
      await other.em.getConnection().execute('begin immediate');
      const response = await fetch(`${url}/healthz`);
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ status: 'failing', database: 'not writable' });
      expect(text).not.toContain(dir);
      expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 'error', msg: 'health check: the database refused a write' }));
    } finally {
      logs.stop();
      await other.em.getConnection().execute('rollback');
      await other.close();
    }
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 20_000);

  it('refuses other methods', async () => {
    const response = await fetch(`${await serve()}/healthz`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('GET /readyz', () => {
  it('is ready with a cluster down, naming each cluster and its standing, and nothing else about it', async () => {
    const response = await fetch(`${await serve()}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ready',
      checks: { migrations: 'applied', config: 'valid', poller: 'running' },
      clusters: [
        { name: 'hpc', reachable: true, stale: false, needsReauth: false },
        { name: 'down', reachable: false, stale: true, needsReauth: false },
        { name: 'mfa', reachable: null, stale: false, needsReauth: true },
      ],
    });
  });

  it('is not ready while the poller is stopped; a refused config reload is reported, not unready', async () => {
    const response = await fetch(`${await serve({ poller: { running: () => false }, configState: () => 'reload-refused' })}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'not ready', checks: { migrations: 'applied', config: 'reload-refused', poller: 'stopped' } });
  });

  it("is ready on a group server's follower, which polls nothing; not on a replica that lost the lead", async () => {
    const follower = await fetch(`${await serve({ poller: { running: () => false }, leadership: () => 'follower' })}/readyz`);
    expect(follower.status).toBe(200);
    expect(await follower.json()).toMatchObject({ status: 'ready', checks: { poller: 'follower' } });
    const lost = await fetch(`${await serve({ poller: { running: () => false }, leadership: () => 'lost' })}/readyz`);
    expect(lost.status).toBe(503);
    expect(await lost.json()).toMatchObject({ status: 'not ready', checks: { poller: 'lost leadership' } });
  });
});

describe('GET /metrics', () => {
  it('loopback: answers this machine in the Prometheus text format', async () => {
    const response = await fetch(`${await serve()}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('mc_jobs{state="RUNNING"} 2');
    expect(text).toContain('mc_cluster_reachable{cluster="down"} 0');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('loopback: refuses a request a proxy on this machine forwarded', async () => {
    const response = await fetch(`${await serve()}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('server.metricsAccess: loopback');
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
  it.skipIf(!external)('loopback: refuses a client on another address', async () => {
    const url = await serve({}, external!);
    expect((await fetch(`${url}/metrics`)).status).toBe(403);
    // The health endpoints answer anyone.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('token: answers any valid API token, and nothing without one', async () => {
    const url = await serve({ metricsAccess: 'token' });
    const { token } = await tokens.create('prometheus', { userId: 1, readOnly: true });
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer mc_${'x'.repeat(43)}` } })).status).toBe(401);
    const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('mc_subscriptions_open 0');
  });

  it('off: there is no such path', async () => {
    const url = await serve({ metricsAccess: 'off' });
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
