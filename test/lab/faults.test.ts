// Faults on the real lab while a job runs: the SSH connection killed and sshd restarted, and slurmctld stopped
// for 30 s. Jobs keep their last known state (the cluster marked stale), nothing is called finished without
// SLURM saying so, and the poller recovers on its own. These stop lab daemons: vitest runs files one at a time.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { labFaults } from './faults.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite } from './lab-env.js';

const lab = labForSuite('lab faults suite');
const faults = lab ? labFaults(lab) : null;

describe.skipIf(!lab)('faults while jobs run', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-faults-'));
    writeFileSync(join(dir, 'clusters.yaml'), stringify({ clusters: { lab: { ...labClusterEntry(lab!), pollIntervalSeconds: 5, connectTimeoutMs: 3000, commandTimeoutMs: 15_000 } } }));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const repo = createFixtureRepo(lab!.user);
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
  });
  afterAll(async () => {
    await faults?.labUp();
    await running?.stop();
  });

  async function submitRunning(sleepSeconds: number): Promise<number> {
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, {
      input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: sleepSeconds }] },
    });
    const id = submitted.submitJob.data.id;
    await expect.poll(async () => (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state, { timeout: 30_000 }).toBe('RUNNING');
    return id;
  }

  const jobState = async (id: number) => (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state exitCode } } } }`, { id })).job.data;
  const labStatus = async () => (await request('{ clusters { name stale lastPollError } }')).clusters.find((cluster: { name: string }) => cluster.name === 'lab');

  it('survives its SSH connection being killed and sshd restarting: the job still reaches its true end', async () => {
    const id = await submitRunning(25);
    faults!.killSshd();
    await expect.poll(labStatus, { timeout: 30_000, interval: 500 }).toMatchObject({ stale: true });
    expect((await jobState(id)).state).toBe('RUNNING');
    await faults!.labUp();
    await expect.poll(labStatus, { timeout: 90_000, interval: 1000 }).toMatchObject({ stale: false, lastPollError: null });
    await expect.poll(() => jobState(id), { timeout: 90_000, interval: 1000 }).toEqual({ state: 'COMPLETED', exitCode: 0 });
  }, 240_000);

  it('keeps job states, marked stale, while slurmctld is stopped for 30 s, and recovers', async () => {
    const id = await submitRunning(60);
    faults!.stopSlurmctld();
    await expect.poll(labStatus, { timeout: 60_000, interval: 500 }).toMatchObject({ stale: true, lastPollError: expect.stringMatching(/slurm controller|timed out|Unable to contact|did not finish within/i) });
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    expect((await jobState(id)).state).toBe('RUNNING');
    await faults!.labUp();
    await expect.poll(labStatus, { timeout: 90_000, interval: 1000 }).toMatchObject({ stale: false });
    await expect.poll(() => jobState(id), { timeout: 90_000, interval: 1000 }).toEqual({ state: 'COMPLETED', exitCode: 0 });
  }, 300_000);
});
