// The daily workflow against the real lab through the real sshd, all over GraphQL:
// add project → Hydra form → preview → submit → follow → log → cancel / clone / lineage, and hostile input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo, type FixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab jobs suite');

const JOB_FIELDS = 'id tag name state slurmState slurmJobId reason exitCode submitError parentId script commitSha wandbUrl startedAt endedAt nodeList';

describe.skipIf(!lab)('jobs on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let repo: FixtureRepo;
  let projectId: number;
  const canary = `/tmp/mc-canary-jobs-${process.pid}`;

  const baseInput = () => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1 });

  async function submit(input: Record<string, unknown>, tag?: string) {
    const data = await request(`mutation($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { __typename ... on MutationSubmitJobSuccess { data { ${JOB_FIELDS} } } ... on Error { message } ... on ValidationError { field } } }`, { input, tag });
    if (data.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(data.submitJob)}`);
    return data.submitJob.data;
  }

  async function refresh(id: number) {
    const data = await request(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { ${JOB_FIELDS} } } ... on Error { message } } }`, { id });
    return data.refreshJob.data;
  }

  async function waitForState(id: number, states: string[], timeout = 60_000) {
    let job: any;
    await expect.poll(async () => (job = await refresh(id)).state, { timeout, interval: 1000 }).toSatisfy((state: string) => states.includes(state));
    return job;
  }

  beforeAll(async () => {
    onLab(lab!, `rm -f ${canary}`);
    repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-jobs-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id name branch pushed dirty headSha settings { trainScript python env { name value } defaultOverrides } } } ... on Error { message } } }`, { path: repo.work });
    expect(added.addProject.data).toMatchObject({ name: 'ml-project', branch: 'main', pushed: true, dirty: false, settings: { trainScript: 'train.py' } });
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('reads the Hydra form of a non-config.yaml primary with nested groups', async () => {
    const data = await request(`query($id: Int!) { hydraConfig(projectId: $id, primary: "train") { ... on QueryHydraConfigSuccess { data { configDir primaries primary hasExperimentSuffix groups { path options default optional } parameters { path type default readOnly } } } ... on Error { message } } }`, { id: projectId });
    const hydra = data.hydraConfig.data;
    expect(hydra).toMatchObject({ configDir: 'conf', primary: 'train', hasExperimentSuffix: true });
    expect(hydra.primaries).toEqual(expect.arrayContaining(['train', 'eval']));
    expect(hydra.groups).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'model/encoder', default: ['small'] }), expect.objectContaining({ path: 'model', options: ['resnet', 'vit'] })]));
    expect(hydra.groups.map((group: { path: string }) => group.path)).not.toContain('hydra/launcher');
    expect(hydra.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'exit_code', type: 'INT', default: 0, readOnly: false })]));
  });

  it('previews exactly the script it submits, then runs it to COMPLETED with the log and W&B URL', async () => {
    const input = { ...baseInput(), description: 'vit baseline run', groups: [{ group: 'model', option: 'vit' }], parameters: [{ path: 'sleep_seconds', value: 2 }], rawOverrides: 'seed=7' };
    const preview = (await request(`query($input: JobInput!) { previewScript(input: $input) { ... on QueryPreviewScriptSuccess { data { tag script warnings } } ... on Error { message } } }`, { input })).previewScript.data;
    expect(preview.script).toContain('--config-name train');
    expect(preview.script).toContain('model=vit');
    expect(preview.script).toMatch(/#SBATCH --mem=200M/);

    const job = await submit(input, preview.tag);
    expect(job.script).toBe(preview.script);
    expect(job.tag).toBe(preview.tag);
    expect(job.state).toBe('PENDING');
    expect(job.slurmJobId).toMatch(/^\d+$/);

    const done = await waitForState(job.id, ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    expect(done).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    const log = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { wandbUrl log { ... on JobLogSuccess { data { text sizeBytes truncated wandbUrl } } ... on Error { message } } } } } }`, { id: job.id })).job.data;
    const output = log.log.data;
    expect(output.text).toContain('config: train');
    expect(output.text).toContain('override: model=vit');
    expect(output.text).toContain('override: seed=7');
    expect(output.text).toContain('override: experiment_suffix=vit-baseline-run');
    expect(output.text).toContain('Epoch 1: 100%');
    expect(output.text).not.toContain('Epoch 1:  20%');
    expect(output.wandbUrl).toMatch(/^https:\/\/wandb\.ai\/mc-lab\/fixture\/runs\/[a-z0-9]{8}$/);
    const stored = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { wandbUrl } } } }`, { id: job.id })).job.data;
    expect(stored.wandbUrl).toBe(output.wandbUrl);
  });

  it('ends FAILED with the exit code, CANCELLED when cancelled, SUBMIT_FAILED when SLURM refuses', async () => {
    const failing = await submit({ ...baseInput(), parameters: [{ path: 'exit_code', value: 3 }, { path: 'sleep_seconds', value: 1 }] });
    const long = await submit({ ...baseInput(), parameters: [{ path: 'sleep_seconds', value: 300 }] });
    // A request no partition limit foresees (9 A100s is refused before SLURM now: lab preflight suite): 2 nodes × 3 GPUs
    // fits the a100 node's 4 but not the h100 node's 2, which SLURM alone can tell.
    const tooBig = await submit({ ...baseInput(), nodes: 2, gpusPerNode: 3 });
    expect(tooBig.state).toBe('SUBMIT_FAILED');
    expect(tooBig.submitError).toContain('Requested node configuration is not available');
    expect(tooBig.slurmJobId).toBeNull();

    expect(await waitForState(failing.id, ['FAILED', 'COMPLETED'])).toMatchObject({ state: 'FAILED', exitCode: 3 });

    await waitForState(long.id, ['RUNNING']);
    const cancelled = await request(`mutation($id: Int!) { cancelJob(id: $id) { ... on MutationCancelJobSuccess { data { state } } ... on Error { message } } }`, { id: long.id });
    expect(['CANCELLED', 'RUNNING', 'COMPLETING']).toContain(cancelled.cancelJob.data.state);
    expect(await waitForState(long.id, ['CANCELLED'])).toMatchObject({ state: 'CANCELLED', slurmState: expect.stringMatching(/^CANCELLED/) });
  });

  it('ends TIMEOUT when a run outlives --time=1', async () => {
    const job = await submit({ ...baseInput(), timeLimit: '1', parameters: [{ path: 'sleep_seconds', value: 600 }] });
    expect(await waitForState(job.id, ['TIMEOUT', 'COMPLETED', 'FAILED', 'CANCELLED'], 170_000)).toMatchObject({ state: 'TIMEOUT' });
  }, 200_000);

  it('clones a finished job with identical settings on the current commit and records the lineage', async () => {
    const original = await submit({ ...baseInput(), gpusPerNode: 1, gpuType: 'h100', parameters: [{ path: 'sleep_seconds', value: 1 }] });
    await waitForState(original.id, ['COMPLETED']);
    const newHead = repo.commit('Tune the encoder', { 'NOTES.md': 'tuning\n' });
    await request(`mutation($id: Int!) { syncProject(id: $id) { ... on MutationSyncProjectSuccess { data { headSha } } } }`, { id: projectId });

    const template = (await request(`query($id: Int!) { jobTemplate(id: $id) { ... on QueryJobTemplateSuccess { data { originalCommit currentCommit input { projectId cluster name description partition account qos nodes gpusPerNode gpuType cpusPerTask memory timeLimit primary groups { group option } parameters { path value } rawOverrides parentJobId allowUnpushed } } } } }`, { id: original.id })).jobTemplate.data;
    expect(template.originalCommit).toBe(original.commitSha);
    expect(template.currentCommit).toBe(newHead);
    expect(template.input).toMatchObject({ parentJobId: original.id, gpusPerNode: 1, gpuType: 'h100' });

    const clone = await submit(template.input);
    expect(clone.parentId).toBe(original.id);
    expect(clone.commitSha).toBe(newHead);
    expect(clone.script.replaceAll(clone.tag, 'TAG')).toBe(original.script.replaceAll(original.tag, 'TAG'));

    const lineage = (await request(`query($id: Int!) { jobLineage(projectId: $id) { ... on QueryJobLineageSuccess { data { parentId changes job { id } } } } }`, { id: projectId })).jobLineage.data;
    expect(lineage.find((node: { job: { id: number } }) => node.job.id === clone.id)).toEqual({ parentId: original.id, changes: [], job: { id: clone.id } });
    await waitForState(clone.id, ['COMPLETED']);

    const checkout = `/home/${lab!.user}/mission-control/jobs/${clone.tag}/code`;
    expect(onLab(lab!, `test -f ${checkout}/train.py`).status).toBe(0);
    const archived = await request(`mutation($id: Int!) { archiveJob(id: $id, cleanup: true) { ... on MutationArchiveJobSuccess { data { archived } } ... on Error { message } } }`, { id: clone.id });
    expect(archived.archiveJob).toEqual({ data: { archived: true } });
    expect(onLab(lab!, `test -e ${checkout}`).status).toBe(1);
    expect(onLab(lab!, `test -f /home/${lab!.user}/mission-control/jobs/${clone.tag}/output.log`).status).toBe(0);
    const active = await request(`query($id: Int!) { jobs(filter: { projectId: $id, archived: false }) { nodes { id } } }`, { id: projectId });
    expect(active.jobs.nodes.map((job: { id: number }) => job.id)).not.toContain(clone.id);
  });

  it('never runs hostile input: each refusal names its field, accepted text stays text', async () => {
    const touch = `touch ${canary}`;
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ name: `$(${touch})` }, 'name'],
      [{ name: 'a;b' }, 'name'],
      [{ partition: `gpu;${touch}` }, 'partition'],
      [{ partition: '--wrap=id' }, 'partition'],
      [{ gpuType: `a100\n${touch}` }, 'gpuType'],
      [{ memory: `1G\`${touch}\`` }, 'memory'],
      [{ timeLimit: `5;${touch}` }, 'timeLimit'],
      [{ account: "x' || touch y" }, 'account'],
      [{ rawOverrides: `lr=$(${touch})` }, 'rawOverrides'],
      [{ rawOverrides: `seed=1; ${touch}` }, 'rawOverrides'],
      [{ rawOverrides: `seed=1\n${touch}` }, 'rawOverrides'],
      [{ groups: [{ group: 'model', option: `vit;${touch}` }] }, 'groups.model'],
      [{ parameters: [{ path: `seed;${touch}`, value: 1 }] }, `parameters.seed;${touch}`],
      [{ description: `bell\u0007` }, 'description'],
    ];
    for (const [change, field] of refusals) {
      const data = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on ValidationError { field message } } }`, { input: { ...baseInput(), ...change } });
      expect(data.submitJob, JSON.stringify(change)).toMatchObject({ __typename: 'ValidationError', field });
    }
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { __typename ... on ValidationError { field } } }`, { path: `/tmp; ${touch}` });
    expect(added.addProject).toEqual({ __typename: 'ValidationError', field: 'localPath' });

    // Accepted as plain text: it reaches the job as data and is printed, never executed.
    const job = await submit({ ...baseInput(), description: `$(${touch}) \`${touch}\` "quoted" 'single' -- --wrap=x`, parameters: [{ path: 'sleep_seconds', value: 1 }, { path: 'run_note', value: `$(${touch}); ${touch}`, add: true }] });
    await waitForState(job.id, ['COMPLETED', 'FAILED']);
    expect(onLab(lab!, `test -e ${canary}`).status).toBe(1);
  });
});
