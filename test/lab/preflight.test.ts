// SLURM's verdict before launch, against the real lab: a job that leaves memory and time out gets the partition's and
// the site's defaults and runs (the API used to write --mem=4G, more than the lab's 4,000 MB nodes, and SLURM refused
// it after launch); a preview asking more than the partition gives is refused under the field with the limit's words,
// storing nothing; a valid preview carries SLURM's own acceptance (sbatch --test-only) with an estimated start.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../server/db/entities.js';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

const lab = labForSuite('lab preflight suite');

const PREVIEW = `query($input: JobInput!) { previewScript(input: $input) { __typename
  ... on QueryPreviewScriptSuccess { data { script preflight { outcome estimatedStartAt nodes partition message field } } }
  ... on ValidationError { field message } ... on Error { message } } }`;

describe.skipIf(!lab)("SLURM's verdict before launch, on the lab", () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;
  const input = (changes: Record<string, unknown> = {}) => ({ projectId, cluster: 'lab', primary: 'train', parameters: [{ path: 'sleep_seconds', value: 1 }], ...changes });
  const jobsStored = () => running.services.orm.em.fork().count(Job, {});

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-preflight-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    projectId = added.addProject.data.id;
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
  });

  it("reads the lab's partitions: gpu's MaxTime and DefaultTime, its largest node, and the site's DefMemPerCPU", async () => {
    const { clusters } = await request(`{ clusters { name partitionLimits { name isDefault maxTimeMinutes defaultTimeMinutes maxNodes maxCpusPerNode maxMemoryPerNodeMb defaultMemoryPerCpuMb gpusPerNode { type count } } } }`);
    const limits = clusters.find((cluster: { name: string }) => cluster.name === 'lab').partitionLimits;
    expect(limits).toEqual([
      { name: 'gpu', isDefault: true, maxTimeMinutes: 2880, defaultTimeMinutes: 60, maxNodes: 2, maxCpusPerNode: 4, maxMemoryPerNodeMb: 4000, defaultMemoryPerCpuMb: 100, gpusPerNode: [{ type: 'a100', count: 4 }, { type: 'h100', count: 2 }] },
      { name: 'cpu', isDefault: false, maxTimeMinutes: null, defaultTimeMinutes: null, maxNodes: 1, maxCpusPerNode: 4, maxMemoryPerNodeMb: 4000, defaultMemoryPerCpuMb: 100, gpusPerNode: [] },
    ]);
  });

  it('refuses 9 A100s, 99 days and more memory than a node has under their fields, storing nothing', async () => {
    const before = await jobsStored();
    const refusals = [
      [{ gpusPerNode: 9, gpuType: 'a100' }, 'gpusPerNode', 'the nodes of partition gpu have at most 4 a100 GPUs each'],
      [{ timeLimit: '99-00:00:00' }, 'timeLimit', 'partition gpu allows at most 2-00:00:00'],
      [{ memory: '8G' }, 'memory', 'the largest node of partition gpu has 4000M'],
    ] as const;
    for (const [changes, field, words] of refusals) {
      const { previewScript } = await request(PREVIEW, { input: input(changes) });
      expect(previewScript, JSON.stringify(changes)).toMatchObject({ __typename: 'ValidationError', field, message: `${field}: ${words}` });
      const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on ValidationError { field } } }`, { input: input(changes) });
      expect(submitted.submitJob).toEqual({ __typename: 'ValidationError', field });
    }
    expect(await jobsStored()).toBe(before);
  });

  it("shows SLURM's acceptance with an estimated start, and its refusal in its own words", async () => {
    const accepted = (await request(PREVIEW, { input: input() })).previewScript;
    expect(accepted.__typename).toBe('QueryPreviewScriptSuccess');
    expect(accepted.data.script).not.toMatch(/^#SBATCH --(mem|time)=/m);
    expect(accepted.data.preflight).toMatchObject({ outcome: 'ACCEPTED', partition: 'gpu', field: null });
    expect(Date.parse(accepted.data.preflight.estimatedStartAt)).toBeGreaterThan(Date.now() - 3600_000);
    // What the limits cannot see: 2 nodes with 3 GPUs each fits the a100 node's 4, but the partition's other node has 2.
    const refused = (await request(PREVIEW, { input: input({ nodes: 2, gpusPerNode: 3 }) })).previewScript;
    expect(refused.__typename).toBe('QueryPreviewScriptSuccess');
    expect(refused.data.preflight).toEqual({ outcome: 'REFUSED', estimatedStartAt: null, nodes: null, partition: null, message: 'Requested node configuration is not available', field: null });
  });

  it('runs a job that gives no memory and no time limit with the defaults, to COMPLETED', async () => {
    const { submitJob } = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id script } } ... on Error { message } } }`, { input: input() });
    expect(submitJob.__typename, JSON.stringify(submitJob)).toBe('MutationSubmitJobSuccess');
    expect(submitJob.data.script).not.toMatch(/^#SBATCH --(mem|time)=/m);
    const refresh = async () => (await request(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state submitError } } } }`, { id: submitJob.data.id })).refreshJob.data;
    await expect.poll(async () => (await refresh()).state, { timeout: 90_000, interval: 1000 }).toBe('COMPLETED');
  }, 120_000);
});
