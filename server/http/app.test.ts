// The whole GraphQL stack in-process (yoga.fetch) on an in-memory database. Clusters are reached through a fake
// transport here; the lab suite proves the same paths against the real SLURM lab over the real sshd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, createTestToken } from '../../test/graphql-client.js';
import { createApp } from './app.js';
import { clusterConfig, type Config } from '../config.js';
import { ClusterCheck } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ClusterUnreachableError } from '../errors.js';
import { createServices, type Services } from '../services.js';
import type { Transport } from '../ssh/index.js';
import { refuseStream } from '../../test/fake-transport.js';

const cluster = (name: string) =>
  clusterConfig(name, { host: `${name}.example.edu`, user: 'me', agent: true, connectTimeoutMs: 1000, commandTimeoutMs: 1000, keepaliveIntervalMs: 0, maxChannels: 4 });

// The probe's output as the lab printed it (sinfo --version, then sinfo -h -o '%P|%a|%D|%t').
const probeOutput = 'slurm 22.05.8\n--mission-control--\ngpu*|up|1|mix\ngpu*|up|1|idle\ncpu|up|1|idle\n';

describe('GraphQL clusters API', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let token: string;
  const execs: Record<string, number> = {};

  const transports: Record<string, Transport['exec']> = {
    healthy: async () => ({ stdout: probeOutput, stderr: '', exitCode: 0, durationMs: 42.4 }),
    down: async () => {
      throw new ClusterUnreachableError('down', 'connect ECONNREFUSED 10.0.0.1:22');
    },
    hanging: () => new Promise(() => undefined),
    broken: async () => ({ stdout: '', stderr: 'sinfo: error: Unable to contact slurm controller (connect failure)', exitCode: 1, durationMs: 9000 }),
  };

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const config: Config = { file: 'test.yaml', clusters: Object.keys(transports).map(cluster) };
    services = createServices({
      orm,
      config,
      clusters: {
        firstCheckWaitMs: 200,
        transportFactory: (c) => ({
          exec: (...args) => {
            execs[c.name] = (execs[c.name] ?? 0) + 1;
            return transports[c.name]!(...args);
          },
          close: async () => undefined,
          stream: refuseStream,
        }),
      },
    });
    app = createApp({ services });
    token = await createTestToken(services);
  });
  afterAll(async () => {
    await services.close();
    await orm.close();
  });

  async function graphql(query: string, variables?: Record<string, unknown>) {
    const response = await app.yoga.fetch('http://mc.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ query, variables }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { data?: any; errors?: Array<{ message: string }> };
  }

  const clustersQuery = '{ clusters { name host reachable latencyMs slurmVersion error checkedAt partitions { name isDefault available nodes states { state nodes } } } }';

  it('shows every cluster with its own outcome; a hanging cluster does not hold up the answer', async () => {
    const [first, ...concurrent] = await Promise.all(Array.from({ length: 10 }, () => graphql(clustersQuery)));
    expect(first!.errors).toBeUndefined();
    const byName = Object.fromEntries(first!.data.clusters.map((c: { name: string }) => [c.name, c]));
    expect(byName.healthy).toMatchObject({
      reachable: true,
      latencyMs: 42,
      slurmVersion: '22.05.8',
      error: null,
      partitions: [
        { name: 'gpu', isDefault: true, available: true, nodes: 2, states: [{ state: 'mix', nodes: 1 }, { state: 'idle', nodes: 1 }] },
        { name: 'cpu', isDefault: false, available: true, nodes: 1, states: [{ state: 'idle', nodes: 1 }] },
      ],
    });
    expect(new Date(byName.healthy.checkedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(byName.down).toMatchObject({ reachable: false, error: 'down: connect ECONNREFUSED 10.0.0.1:22', partitions: [] });
    expect(byName.broken).toMatchObject({ reachable: false, error: expect.stringContaining('Unable to contact slurm controller') });
    expect(byName.hanging).toMatchObject({ reachable: null, error: null, checkedAt: null });
    expect(concurrent.every((result) => result.data.clusters.length === 4)).toBe(true);
    // Ten concurrent readers, one remote command per cluster.
    expect(execs).toEqual({ healthy: 1, down: 1, hanging: 1, broken: 1 });
  });

  it('keeps the facts of each cluster that answered in the database (a failed check, as of one login that fails, erases none)', async () => {
    const rows = await orm.em.fork().find(ClusterCheck, {}, { orderBy: { cluster: 'asc' } });
    expect(rows.map((row) => [row.cluster, row.reachable, row.slurmVersion, row.partitions.length])).toEqual([['healthy', true, '22.05.8', 2]]);
  });

  it('testClusterConnection checks again now, and names an unknown cluster as a typed error', async () => {
    const mutation = 'mutation($name: String!) { testClusterConnection(name: $name) { __typename ... on MutationTestClusterConnectionSuccess { data { name reachable } } ... on Error { message } } }';
    const before = execs.healthy;
    const ok = await graphql(mutation, { name: 'healthy' });
    expect(ok.data.testClusterConnection).toEqual({ __typename: 'MutationTestClusterConnectionSuccess', data: { name: 'healthy', reachable: true } });
    expect(execs.healthy).toBe(before! + 1);

    const missing = await graphql(mutation, { name: 'nope' });
    expect(missing.data.testClusterConnection).toEqual({ __typename: 'NotFoundError', message: 'no cluster named "nope" in the configuration' });
  });

  it('answers GraphQL over SSE on the same endpoint', async () => {
    const response = await app.yoga.fetch('http://mc.test/graphql?query=%7Bclusters%7Bname%7D%7D', { headers: { accept: 'text/event-stream', ...authHeaders(token) } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    expect(text).toContain('event: next');
    expect(text).toContain('"name":"healthy"');
  });
});
