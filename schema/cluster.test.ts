// A cluster's connection help as a client reads it: configured per cluster, carried by every status (the first
// check, the last known one, a forced test), executed against the schema on an in-memory database.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graphql } from 'graphql';
import { utils } from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterConfig } from '../server/config.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Context, type Services } from '../server/services.js';
import { schema } from './index.js';

let orm: Orm;
let services: Services;

const help = { vpn: 'sudo openconnect --user=jdoe vpn.uni.edu', steps: 'Off campus: VPN first.\nApprove the Duo push.', link: 'https://hpc.uni.edu/docs/access' };

/** A loopback port nothing listens on: connecting is refused at once, as with a cluster behind a VPN that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-cluster-schema-'));
  const identityFile = join(dir, 'id_ed25519');
  writeFileSync(identityFile, utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
  const port = await closedPort();
  const entry = { host: '127.0.0.1', port, user: 'jdoe', identityFile, knownHostsFile: join(dir, 'known_hosts'), connectTimeoutMs: 2000 };
  orm = await initOrm(':memory:');
  services = createServices({ orm, config: { file: 'test.yaml', clusters: [clusterConfig('campus', { ...entry, connectionHelp: help }), clusterConfig('plain', entry)] } });
});
afterAll(async () => {
  await services?.close();
  await orm?.close();
});

async function run(source: string, variableValues?: Record<string, unknown>) {
  // Read-only: connection help is for every paired device, which is why it must never hold a secret.
  const contextValue: Context = { em: orm.em.fork(), services, session: { tokenName: 'watcher', tokenId: 1, readOnly: true, authRequired: true, userId: 1, admin: true } };
  const result = await graphql({ schema, source, variableValues, contextValue });
  expect(result.errors).toBeUndefined();
  return result.data as any;
}

const fields = 'name reachable error connectionHelp { vpn steps link }';

it("gives each cluster its configured connection help beside the error of an unreachable one, and null where none is configured", async () => {
  const { clusters } = await run(`{ clusters { ${fields} } }`);
  expect(clusters).toEqual([
    { name: 'campus', reachable: false, error: expect.stringMatching(/ECONNREFUSED|refused/), connectionHelp: help },
    { name: 'plain', reachable: false, error: expect.stringMatching(/ECONNREFUSED|refused/), connectionHelp: null },
  ]);
  const { cluster } = await run(`query($name: String!) { cluster(name: $name) { ... on QueryClusterSuccess { data { ${fields} } } } }`, { name: 'campus' });
  expect(cluster.data.connectionHelp).toEqual(help);
});

it('carries the help on the status subscribers are told of and on a forced connection test', async () => {
  const told = services.events.subscribe('cluster:status')[Symbol.asyncIterator]();
  const next = told.next();
  const contextValue: Context = { em: orm.em.fork(), services, session: { tokenName: 'phone', tokenId: 2, readOnly: false, authRequired: true, userId: 1, admin: true } };
  const result = await graphql({ schema, source: `mutation { testClusterConnection(name: "campus") { ... on MutationTestClusterConnectionSuccess { data { ${fields} } } } }`, contextValue });
  expect(result.errors).toBeUndefined();
  expect((result.data as any).testClusterConnection.data).toMatchObject({ reachable: false, connectionHelp: help });
  expect((await next).value).toMatchObject({ name: 'campus', reachable: false, connectionHelp: help });
  await told.return?.();
});

it('shows an edited help at once, without reconnecting or checking again (a new login may cost a Duo push)', async () => {
  const before = await run(`{ clusters { name checkedAt } }`);
  const transport = await services.clusters.transport('campus', 1);
  const edited = { vpn: 'sudo openconnect --user=jdoe vpn2.uni.edu' };
  const [campus, plain] = ['campus', 'plain'].map((name) => services.clusters.config(name));
  await services.clusters.applyConfig({ file: 'test.yaml', clusters: [{ ...campus!, connectionHelp: edited }, { ...plain!, connectionHelp: help }] });
  const { clusters } = await run(`{ clusters { name checkedAt connectionHelp { vpn steps link } } }`);
  expect(clusters).toEqual([
    { name: 'campus', checkedAt: before.clusters[0].checkedAt, connectionHelp: { vpn: edited.vpn, steps: null, link: null } },
    { name: 'plain', checkedAt: before.clusters[1].checkedAt, connectionHelp: help },
  ]);
  expect(await services.clusters.transport('campus', 1)).toBe(transport);
});
