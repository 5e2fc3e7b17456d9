// The real server (config file → SQLite → GraphQL over HTTP, WebSocket and SSE) reaching the lab over ssh2.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { startServer } from '../../server/main.js';
import { authHeaders, createTestToken, graphqlClient, wsConnectionParams } from '../graphql-client.js';
import { labClusterEntry, labForSuite } from './lab-env.js';

const lab = labForSuite('lab server suite');

describe.skipIf(!lab)('server against the lab', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-server-'));
  const configPath = join(dir, 'clusters.yaml');
  // "gone" points at a loopback port where nothing listens: one dead cluster beside a healthy one.
  const writeConfig = (extra: Record<string, unknown> = {}) =>
    writeFileSync(configPath, stringify({ clusters: { lab: labClusterEntry(lab!), gone: { ...labClusterEntry(lab!), port: 1 }, ...extra } }));
  let running: Awaited<ReturnType<typeof startServer>>;
  let token: string;

  beforeAll(async () => {
    writeConfig();
    running = await startServer({ configPath, dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services);
  });
  afterAll(() => running?.stop());

  const request = (query: string) => graphqlClient(running.url, token)(query);
  const clustersQuery = '{ clusters { name reachable latencyMs slurmVersion error partitions { name isDefault available nodes } } }';

  it('lists the lab as reachable with its partitions, and the dead cluster with its own error', async () => {
    const data = await request(clustersQuery);
    const byName = Object.fromEntries(data.clusters.map((c: { name: string }) => [c.name, c]));
    expect(byName.lab).toMatchObject({
      reachable: true,
      slurmVersion: lab!.slurmVersion,
      error: null,
      partitions: [
        { name: 'gpu', isDefault: true, available: true, nodes: 2 },
        { name: 'cpu', isDefault: false, available: true, nodes: 1 },
      ],
    });
    expect(byName.lab.latencyMs).toBeGreaterThan(0);
    expect(byName.gone).toMatchObject({ reachable: false, partitions: [], error: expect.stringContaining('ECONNREFUSED') });
  });

  it('tests a connection on demand', async () => {
    const data = await request('mutation { testClusterConnection(name: "lab") { ... on MutationTestClusterConnectionSuccess { data { name reachable slurmVersion } } } }');
    expect(data.testClusterConnection.data).toEqual({ name: 'lab', reachable: true, slurmVersion: lab!.slurmVersion });
  });

  it('answers over graphql-ws and SSE on the same port and endpoint', async () => {
    const client = createClient({ url: `${running.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: wsConnectionParams(token) });
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: '{ clusters { name reachable } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(result.data.clusters).toEqual(expect.arrayContaining([{ name: 'lab', reachable: true }]));
    } finally {
      await client.dispose();
    }

    const sse = await fetch(`${running.url}/graphql?query=${encodeURIComponent('{ clusters { name } }')}`, { headers: { accept: 'text/event-stream', ...authHeaders(token) } });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    expect(await sse.text()).toMatch(/event: next\ndata: \{"data":\{"clusters":\[\{"name":"lab"\},\{"name":"gone"\}\]\}\}/);
  });

  it('picks up an edited clusters.yaml without a restart, and keeps running on a broken edit', async () => {
    writeConfig({ lab2: labClusterEntry(lab!) });
    await expect.poll(async () => (await request('{ clusters { name } }')).clusters.map((c: { name: string }) => c.name), { timeout: 5000 }).toEqual(['lab', 'gone', 'lab2']);
    writeFileSync(configPath, 'clusters:\n  lab:\n    hots: nowhere\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await request('{ clusters { name } }')).clusters.map((c: { name: string }) => c.name)).toEqual(['lab', 'gone', 'lab2']);
  });

});
