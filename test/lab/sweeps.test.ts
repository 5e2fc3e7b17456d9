// Sweeps on the real lab through the real sshd, over GraphQL: a Hydra multirun as ONE sbatch --array, its tasks run
// by real Hydra with their own overrides, the sweep's state from its tasks, relaunching only the failed index,
// cancelling the pending tasks of a throttled sweep, and dependencies (afterok on a sweep; afterok on a failed job
// never satisfied).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { readmePython } from '../readme-snippets.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab sweeps suite');

const TASK_FIELDS = 'id state slurmJobId arrayIndex sweepId exitCode reason parentId input { groups { group option } overrides }';
const SWEEP_FIELDS = `id tag name state size throttle arrayJobId retries varying definition endedAt counts { state count } runs { index overrides values task { ${TASK_FIELDS} } }`;
const TERMINAL = ['COMPLETED', 'COMPLETED_WITH_FAILURES', 'FAILED', 'CANCELLED'];

describe.skipIf(!lab)('sweeps on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;

  const job = (extra: Record<string, unknown> = {}) => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 1 }], ...extra });

  async function submitSweep(input: Record<string, unknown>) {
    const data = await request(`mutation($input: SweepInput!) { submitSweep(input: $input) { __typename ... on MutationSubmitSweepSuccess { data { ${SWEEP_FIELDS} } } ... on Error { message } ... on ValidationError { field } } }`, { input });
    if (data.submitSweep.__typename !== 'MutationSubmitSweepSuccess') throw new Error(`submitSweep: ${JSON.stringify(data.submitSweep)}`);
    return data.submitSweep.data;
  }

  async function sweep(id: number) {
    return (await request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { ${SWEEP_FIELDS} } } ... on Error { message } } }`, { id })).sweep.data;
  }

  async function waitForSweep(id: number, states: string[], timeout = 90_000) {
    let current: any;
    await expect.poll(async () => (current = await sweep(id)).state, { timeout, interval: 1000 }).toSatisfy((state: string) => states.includes(state));
    return current;
  }

  async function jobOf(id: number) {
    return (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { id state reason slurmJobId dependsOn { kind jobId sweepId } log { ... on JobLogSuccess { data { text } } } } } } }`, { id })).job.data;
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-sweeps-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('runs seed × model as ONE sbatch --array=0-5%P, each task with its own overrides, to a completed sweep', async () => {
    const input = { job: job(), sweep: ['seed=1,2,3', 'model=resnet,vit'] };
    const preview = (await request(`query($input: SweepInput!) { previewSweep(input: $input) { ... on QueryPreviewSweepSuccess { data { tag script count throttle varying runs { index overrides words } } } ... on Error { message } } }`, { input })).previewSweep.data;
    expect(preview).toMatchObject({ count: 6, throttle: 6, varying: ['seed', 'model'] });
    expect(preview.runs.map((run: { overrides: string[] }) => run.overrides.join(' '))).toEqual(['seed=1 model=resnet', 'seed=1 model=vit', 'seed=2 model=resnet', 'seed=2 model=vit', 'seed=3 model=resnet', 'seed=3 model=vit']);
    expect(preview.script).toContain('--output=');
    expect(preview.script).toContain('/tasks/%a/output.log');

    const submitted = await submitSweep(input);
    expect(submitted.size).toBe(6);
    expect(submitted.arrayJobId).toMatch(/^\d+$/);
    expect(submitted.runs.map((run: any) => run.task.slurmJobId)).toEqual([0, 1, 2, 3, 4, 5].map((index) => `${submitted.arrayJobId}_${index}`));
    // One sbatch: SLURM holds one array job with six tasks.
    const sacctTasks = onLab(lab!, `sleep 1; squeue -h -r -j ${submitted.arrayJobId} -o %i; sacct -n -X -P -j ${submitted.arrayJobId} -o JobID`).stdout;
    expect(new Set(sacctTasks.split('\n').filter(Boolean)).size).toBeGreaterThanOrEqual(1);

    const done = await waitForSweep(submitted.id, TERMINAL);
    expect(done.state).toBe('COMPLETED');
    expect(done.counts).toEqual([{ state: 'COMPLETED', count: 6 }]);
    expect(done.endedAt).not.toBeNull();
    for (const run of done.runs) {
      const log = (await jobOf(run.task.id)).log.data.text as string;
      const [seed, model] = run.values;
      expect(log).toContain(`override: seed=${seed}`);
      expect(log).toContain(`override: model=${model}`);
      expect(log).toContain(`mission-control: task ${run.index} of array ${submitted.arrayJobId} runs with`);
      expect(log).toMatch(new RegExp(`"seed": ${seed}\\b`));
    }
    // Each task has a Hydra output directory of its own (tasks starting in the same second would share Hydra's
    // time-stamped default), where Hydra recorded its job number.
    const hydraDirs = onLab(lab!, `cd ~/mission-control/jobs/${submitted.tag}/code/multirun/${submitted.tag} && for d in *; do printf '%s ' "$d"; sed -n 's/^    num: //p' "$d/.hydra/hydra.yaml"; done`).stdout;
    expect(hydraDirs.trim().split('\n')).toEqual(['0 0', '1 1', '2 2', '3 3', '4 4', '5 5']);
  });

  it('shows 5 completed + 1 failed, and relaunching failures runs only that index', async () => {
    const submitted = await submitSweep({ job: job(), sweep: ['exit_code=0,0,0,0,0,3'] });
    const ended = await waitForSweep(submitted.id, TERMINAL);
    expect(ended.state).toBe('COMPLETED_WITH_FAILURES');
    expect(Object.fromEntries(ended.counts.map((entry: any) => [entry.state, entry.count]))).toEqual({ COMPLETED: 5, FAILED: 1 });
    const failed = ended.runs[5].task;
    expect(failed).toMatchObject({ state: 'FAILED', exitCode: 3 });

    const relaunched = (await request(`mutation($id: Int!) { relaunchFailedTasks(id: $id) { ... on MutationRelaunchFailedTasksSuccess { data { ${SWEEP_FIELDS} } } ... on Error { message } } }`, { id: submitted.id })).relaunchFailedTasks.data;
    expect(relaunched.retries).toBe(1);
    const retried = relaunched.runs[5].task;
    expect(retried.id).not.toBe(failed.id);
    expect(retried.parentId).toBe(failed.id);
    expect(retried.slurmJobId).toMatch(/^\d+_5$/);
    expect(retried.slurmJobId.split('_')[0]).not.toBe(submitted.arrayJobId);
    // The other five are the same tasks as before.
    expect(relaunched.runs.slice(0, 5).map((run: any) => run.task.id)).toEqual(ended.runs.slice(0, 5).map((run: any) => run.task.id));
    const again = await waitForSweep(submitted.id, TERMINAL);
    expect(again.runs[5].task.state).toBe('FAILED');
    const tasks = (await request(`query($id: Int!) { jobs(filter: { sweepId: $id }, first: 50) { nodes { id arrayIndex } } }`, { id: submitted.id })).jobs.nodes;
    expect(tasks).toHaveLength(7);
    expect(tasks.filter((task: any) => task.arrayIndex === 5)).toHaveLength(2);
  });

  it('cancels only the pending tasks of a throttled sweep, and the running one finishes', async () => {
    const submitted = await submitSweep({ job: job({ parameters: [{ path: 'sleep_seconds', value: 8 }] }), sweep: ['seed=1,2,3,4'], throttle: 1 });
    expect(submitted.throttle).toBe(1);
    await expect.poll(async () => (await sweep(submitted.id)).runs.filter((run: any) => run.task.state === 'RUNNING').length, { timeout: 60_000, interval: 500 }).toBe(1);
    const cancelled = (await request(`mutation($id: Int!) { cancelSweep(id: $id, onlyPending: true) { ... on MutationCancelSweepSuccess { data { id } } ... on Error { message } } }`, { id: submitted.id })).cancelSweep;
    expect(cancelled.data?.id).toBe(submitted.id);
    const ended = await waitForSweep(submitted.id, TERMINAL);
    const counts = Object.fromEntries(ended.counts.map((entry: any) => [entry.state, entry.count]));
    expect(counts).toEqual({ COMPLETED: 1, CANCELLED: 3 });
    expect(ended.state).toBe('CANCELLED');
  });

  it('starts a job with afterok on a sweep only after the sweep, and shows a never-satisfied afterok on a failed job', async () => {
    const training = await submitSweep({ job: job({ parameters: [{ path: 'sleep_seconds', value: 4 }] }), sweep: ['seed=1,2'] });
    const evaluation = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id state dependsOn { kind sweepId } } } ... on Error { message } } }`, {
      input: job({ dependsOn: [{ kind: 'AFTEROK', sweepId: training.id }] }),
    });
    const evaluationJob = evaluation.submitJob.data;
    expect(evaluationJob.dependsOn).toEqual([{ kind: 'AFTEROK', sweepId: training.id }]);
    const waiting = await jobOf(evaluationJob.id);
    expect(waiting.state).toBe('PENDING');
    await waitForSweep(training.id, TERMINAL);
    await expect.poll(async () => (await jobOf(evaluationJob.id)).state, { timeout: 60_000, interval: 1000 }).toBe('COMPLETED');

    const failing = (await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input: job({ parameters: [{ path: 'exit_code', value: 2 }, { path: 'sleep_seconds', value: 0 }] }) })).submitJob.data;
    const blocked = (await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input: job({ dependsOn: [{ kind: 'AFTEROK', jobId: failing.id }] }) })).submitJob.data;
    await expect.poll(async () => (await jobOf(blocked.id)).reason, { timeout: 60_000, interval: 1000 }).toBe('DependencyNeverSatisfied');
    expect((await jobOf(blocked.id)).state).toBe('PENDING');
    const cancel = (await request(`mutation($id: Int!) { cancelJob(id: $id) { ... on MutationCancelJobSuccess { data { state } } ... on Error { message } } }`, { id: blocked.id })).cancelJob;
    expect(cancel.data.state).toBe('CANCELLED');
  });

  it("runs the README's sweep snippet: a 3-run sweep followed over SSE to its end, then its table", async () => {
    const snippet = readmePython(['submitSweep']);
    const token = await createTestToken(running.services, { name: 'notebook-sweep' });
    const { stdout } = await promisify(execFile)('python3', ['-c', snippet.replace('http://127.0.0.1:4000', running.url)], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, MC_TOKEN: token, MC_PROJECT: String(projectId), MC_CLUSTER: 'lab', MC_METRIC: 'train_loss' },
    });
    expect(stdout).toMatch(/^sweep \d+ is job array \d+ with 3 runs$/m);
    expect(stdout).toContain('sweep COMPLETED\nrun\tseed\tstate\texit\n');
    for (const seed of [1, 2, 3]) expect(stdout).toMatch(new RegExp(`^${seed - 1}\t${seed}\tCOMPLETED\t0$`, 'm'));
    // The best of the three runs by the last train_loss the fixture wrote in its metrics.csv.
    const best = /^best run by train_loss: (\d) (\d) (\S+)$/m.exec(stdout);
    expect(best, stdout).not.toBeNull();
    const sweepId = Number(/^sweep (\d+) is job array/m.exec(stdout)![1]);
    const chart = (await request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { metrics(name: "train_loss", maxPoints: 2) { index series { points { value } } } } } } }`, { id: sweepId })).sweep.data.metrics;
    const lasts = chart.map((entry: { series: { points: Array<{ value: number }> } }) => entry.series.points.at(-1)!.value);
    expect(Number(best![1])).toBe(lasts.indexOf(Math.min(...lasts)));
    expect(Number(best![3])).toBeCloseTo(Math.min(...lasts), 6);
  });

  it('refuses sweep syntax in a single launch, naming the override', async () => {
    const refused = (await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on ValidationError { field message } } }`, { input: job({ rawOverrides: 'seed=1,2,3' }) })).submitJob;
    expect(refused).toMatchObject({ __typename: 'ValidationError', field: 'rawOverrides' });
    expect(refused.message).toContain('launch a sweep instead');
  });
});
