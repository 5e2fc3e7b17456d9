// Hostile config files in a project's working tree, against the real server: a read-only token asks `hydraConfig`
// for each (symlinks out of the repository, ".." in defaults, /dev/zero, a FIFO, billion laughs, 20,000 keys, deep
// nesting, an oversized file, directories linked outside) and gets a typed error naming the file, never a value from
// outside; `.mlops-config.yaml` cases through syncProject get a ValidationError naming it. Meanwhile a `{ __typename }`
// loop measures how long other requests wait (recorded, not asserted: bench/hostile-config.ts prints the figures).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { authHeaders, createTestToken } from '../graphql-client.js';
import { clearConfigFiles, createOutsideDir, HOSTILE_HYDRA_CASES, HOSTILE_SETTINGS_CASES, SECRET } from '../hostile-project-files.js';
import { createFixtureRepo, type FixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

/** The p-th percentile (nearest rank): recorded in the log, never asserted (timing is the benchmark's job). */
const percentile = (values: number[], p: number): number => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * values.length) - 1)] ?? Number.NaN;

const lab = labForSuite('lab hostile-repo-files suite');

const HYDRA = `query($id: Int!) { hydraConfig(projectId: $id) { __typename
  ... on QueryHydraConfigSuccess { data { primary parameters { path default } } }
  ... on HydraConfigError { file line message } ... on Error { message } } }`;
const SYNC = `mutation($id: Int!) { syncProject(id: $id) { __typename
  ... on MutationSyncProjectSuccess { data { id } } ... on ValidationError { field message } ... on Error { message } } }`;

describe.skipIf(!lab)('hostile repository files against the real server', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let token: string;
  let readOnly: string;
  let repo: FixtureRepo;
  let projectId: number;
  const outside = createOutsideDir();
  const latencies: number[] = [];
  let probing = true;
  let probe: Promise<void> = Promise.resolve();

  async function post(as: string, query: string, variables: Record<string, unknown> = {}): Promise<{ text: string; body: any }> {
    const response = await fetch(`${running.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(as) }, body: JSON.stringify({ query, variables }) });
    const text = await response.text();
    return { text, body: JSON.parse(text) };
  }

  beforeAll(async () => {
    repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-hostile-files-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services);
    readOnly = await createTestToken(running.services, { readOnly: true });
    const added = await post(token, 'mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }', { path: repo.work });
    projectId = added.body.data.addProject.data.id;
    // Other requests, back to back for the whole suite, as another phone would send them.
    probe = (async () => {
      while (probing) {
        const started = performance.now();
        const { body } = await post(readOnly, '{ __typename }');
        expect(body.data.__typename).toBe('Query');
        latencies.push(performance.now() - started);
      }
    })();
  });

  afterAll(async () => {
    probing = false;
    await probe;
    await running?.stop();
    console.log(
      `hostile-repo-files: { __typename } while hostile configs were read: ${latencies.length} requests, p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
  });

  it('composes the fixture project for a read-only token (the baseline)', async () => {
    const { body } = await post(readOnly, HYDRA, { id: projectId });
    expect(body.data.hydraConfig.__typename).toBe('QueryHydraConfigSuccess');
  });

  for (const hostile of HOSTILE_HYDRA_CASES) {
    it(`answers a read-only token's hydraConfig on ${hostile.name} with a HydraConfigError naming ${hostile.file}`, async () => {
      clearConfigFiles(repo.work);
      hostile.write(repo.work, outside);
      // Twice: the second answer comes from the parse cache (or the same refusal), and must be the same.
      for (let attempt = 0; attempt < 2; attempt++) {
        const { text, body } = await post(readOnly, HYDRA, { id: projectId });
        expect(body.errors, text.slice(0, 500)).toBeUndefined();
        expect(body.data.hydraConfig).toMatchObject({ __typename: 'HydraConfigError', file: hostile.file });
        expect(body.data.hydraConfig.message).toMatch(hostile.message);
        expect(text).not.toContain(SECRET);
      }
    });
  }

  for (const hostile of HOSTILE_SETTINGS_CASES) {
    it(`answers syncProject on a .mlops-config.yaml that is ${hostile.name} with a ValidationError naming it`, async () => {
      clearConfigFiles(repo.work);
      hostile.write(repo.work, outside);
      const { text, body } = await post(token, SYNC, { id: projectId });
      expect(body.errors, text.slice(0, 500)).toBeUndefined();
      expect(body.data.syncProject).toMatchObject({ __typename: 'ValidationError', field: hostile.file });
      expect(body.data.syncProject.message).toMatch(hostile.message);
      expect(text).not.toContain(SECRET);
    });
  }

  it('kept answering other requests throughout', () => {
    expect(latencies.length).toBeGreaterThan(0);
  });
});
