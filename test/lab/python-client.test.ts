// The Python client (clients/python/mission_control.py) in Debian's python3, no pip, against a real server on the lab:
// the README's client example as written, then python-client-scenarios.py's launch, sweep and refusals, each checked
// against what the server says over GraphQL. A missing python3 fails the suite (it is part of Debian 12).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { PYTHON } from '../hydra/oracle.js';
import { readmePython } from '../readme-snippets.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

const lab = labForSuite('lab Python client suite');
const SCENARIOS = fileURLToPath(new URL('./python-client-scenarios.py', import.meta.url));
const PROJECT = 'ml-project';

describe.skipIf(!lab)('the Python client on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let token: string;
  let projectId: number;

  /** What python3 sees: the server, a token of its own, the fixture project by name; no bytecode left in the tree. */
  const pythonEnv = (extra: Record<string, string> = {}) => ({ ...process.env, PYTHONDONTWRITEBYTECODE: '1', MC_URL: running.url, MC_TOKEN: token, MC_PROJECT: PROJECT, ...extra });

  async function scenario(name: string, extra: Record<string, string> = {}) {
    const { stdout } = await promisify(execFile)(PYTHON, [SCENARIOS, name], { encoding: 'utf8', timeout: 110_000, env: pythonEnv(extra) });
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  }

  async function jobOf(id: number) {
    const data = await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { id tag state exitCode commitSha script endedAt } } } }`, { id });
    return data.job.data;
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-python-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services, { name: 'notebook' });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id name } } } }`, { path: repo.work });
    expect(added.addProject.data.name).toBe(PROJECT);
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it("runs the README's client example as written: previews, submits, follows to COMPLETED, reads the curves", async () => {
    const example = readmePython(['import mission_control as mc']).replace('http://127.0.0.1:4000', running.url);
    // From the repository's root, where the example's sys.path line finds the client.
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', example], { encoding: 'utf8', timeout: 110_000, env: pythonEnv({ MC_CLUSTER: 'lab' }) });
    const states = [...stdout.matchAll(/^job (\d+) (\w+) (\S+)$/gm)];
    expect(states.length, stdout).toBeGreaterThan(0);
    const id = Number(states[0]![1]);
    expect(states.at(-1)!.slice(2)).toEqual(['COMPLETED', '0']);
    const submitted = await jobOf(id);
    expect(submitted).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    // The script it printed is the one SLURM got, and SLURM's verdict came with it.
    expect(stdout).toContain(submitted.script);
    expect(stdout).toMatch(/^SLURM: ACCEPTED /m);
    // epochs=2: the fixture writes train_loss at steps 1..10 in its metrics.csv, read after the end.
    const curve = await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { metrics(names: ["train_loss"]) { total points { step value } } } } } }`, { id });
    const series = curve.job.data.metrics[0];
    expect(series.total).toBe(10);
    expect(stdout).toContain(`train_loss 10 points, last ${series.points.at(-1).value} at step 10\n`);
  });

  it('submits exactly what the preview showed, follows it to its end (also when it ended first), reads its metrics, log and pages of jobs', async () => {
    const result = await scenario('single-launch');
    const job = await jobOf(result.submitted.id);
    expect(job).toMatchObject({ tag: result.preview.tag, commitSha: result.preview.commit, script: result.preview.script, state: 'COMPLETED', exitCode: 0 });
    expect(result.preview.preflight).toBe('ACCEPTED');
    expect(result.submitted.state).toBe('PENDING');
    // The read after subscribing, then the changes as they came; the end is the last thing yielded.
    const states = result.updates.map((update: [number, string, number | null]) => update[1]);
    expect(states).toContain('RUNNING');
    expect(result.updates.at(-1)).toEqual([job.id, 'COMPLETED', 0]);
    expect(states.filter((state: string) => state === 'COMPLETED')).toHaveLength(1);
    expect(result.again).toEqual([[job.id, 'COMPLETED']]);
    expect(result.job).toEqual({ id: job.id, final: true, endedAt: Date.parse(job.endedAt) / 1000 });
    // nan_at_step=8: NaN from step 8 on, as Python's own float.
    expect(result.trainLoss.total).toBe(10);
    expect(result.trainLoss.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.trainLoss.values.slice(7)).toEqual(['nan', 'nan', 'nan']);
    expect(result.trainLoss.values.slice(0, 7).every((value: unknown) => typeof value === 'number')).toBe(true);
    expect(result.log.end).toMatch(/done\n$/);
    expect(result.log.truncated).toBe(result.log.sizeBytes > 4096);
    // Three jobs a page at a time read as one page of three (the README's job and this one at least).
    const newest = (await request('{ jobs(first: 3) { nodes { id } } }')).jobs.nodes.map((node: { id: number }) => node.id);
    expect(newest.length).toBeGreaterThanOrEqual(2);
    expect(result.paged).toEqual(newest);
    expect(result.completed).toContain(job.id);
    expect(result.searched).toEqual([]);
  });

  it('previews and submits a sweep as one job array, follows its tasks and reads its table and curves', async () => {
    const result = await scenario('sweep');
    expect(result.preview).toMatchObject({ count: 2, varying: ['seed'], throttle: 2, runs: [['seed=1'], ['seed=2']] });
    const sweep = (await request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { tag arrayJobId state runs { task { id } } } } } }`, { id: result.submitted.id })).sweep.data;
    expect(sweep).toMatchObject({ tag: result.preview.tag, arrayJobId: result.submitted.arrayJobId, state: 'COMPLETED' });
    const taskIds = sweep.runs.map((run: { task: { id: number } }) => run.task.id);
    expect(result.submitted.tasks).toEqual(taskIds);
    expect((await jobOf(taskIds[0])).script).toBe(result.preview.script);
    for (const [index, id] of taskIds.entries()) expect(result.updates.filter((update: unknown[]) => update[0] === id).at(-1)).toEqual([id, index, 'COMPLETED']);
    expect(result.table).toEqual({ state: 'COMPLETED', varying: ['seed'], counts: { COMPLETED: 2 }, runs: [[0, ['1'], 'COMPLETED', 0], [1, ['2'], 'COMPLETED', 0]] });
    expect([...result.tasks].sort()).toEqual([...taskIds].sort());
    const curves = (await request(`query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { metrics(name: "train_loss") { index series { points { value } } } } } } }`, { id: result.submitted.id })).sweep.data.metrics;
    expect(result.curves).toEqual(Object.fromEntries(curves.map((entry: { index: number; series: { points: Array<{ value: number }> } }) => [String(entry.index), entry.series.points.at(-1)!.value])));
  });

  it("raises the server's refusals as typed exceptions carrying its message", async () => {
    const readOnly = await createTestToken(running.services, { name: 'notebook-read-only', readOnly: true });
    const refused = await scenario('refusals', { MC_READ_ONLY_TOKEN: readOnly });
    // The same input over GraphQL: the exception carries the server's own message and field.
    const unknownCluster = (await request(`query($input: JobInput!) { previewScript(input: $input) { ... on ValidationError { field message } } }`, { input: { projectId, cluster: 'no-such-cluster' } })).previewScript;
    expect(refused.unknownCluster).toMatchObject({ class: 'ValidationError', typename: 'ValidationError', field: 'cluster', message: unknownCluster.message });
    expect(refused.unknownCluster.bases).toEqual(expect.arrayContaining(['ResultError', 'MissionControlError']));
    expect(refused.badMemory).toMatchObject({ class: 'ValidationError', field: 'memory' });
    expect(refused.unknownJob).toMatchObject({ class: 'NotFoundError', typename: 'NotFoundError', message: 'no job with id 987654' });
    expect(refused.unknownProject).toMatchObject({ class: 'NotFoundError', message: `no project named "no-such-project" (projects: ${PROJECT})` });
    expect(refused.badToken).toMatchObject({ class: 'AuthenticationError', code: 'UNAUTHENTICATED', message: 'unknown or revoked API token' });
    expect(refused.readOnlySubmit).toMatchObject({ class: 'ForbiddenError', code: 'FORBIDDEN', message: expect.stringContaining('"notebook-read-only" is read-only') });
    expect(refused.badQuery).toMatchObject({ class: 'GraphQLError', code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringContaining('no_such_field') });
    expect(refused.badFilter).toMatchObject({ class: 'GraphQLError', code: 'BAD_USER_INPUT', field: 'search', message: expect.stringContaining('at most 500 characters') });
    expect(refused.secondSubmit).toMatchObject({ class: 'LaunchAlreadySubmittedError', field: 'tag', details: { job_id: expect.any(Number), tag: expect.any(String) } });
    expect(refused.secondSubmit.bases).toContain('ValidationError');
    expect(refused.unreachable).toMatchObject({ class: 'MissionControlError', message: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:1\/graphql: .*refused/) });
    expect(refused.badUrl).toMatchObject({ class: 'ValueError', message: expect.stringContaining("'127.0.0.1:4000'") });
    expect(refused.submitWithoutPreview).toMatchObject({ class: 'TypeError', message: expect.stringContaining('takes the Preview') });
    expect(refused.unknownLaunchField).toMatchObject({ class: 'TypeError', message: expect.stringContaining("'gpus'") });
    // A string where a list belongs would be sent letter by letter.
    expect(refused.overridesAsText).toMatchObject({ class: 'TypeError', message: expect.stringContaining('Launch.overrides is a list') });
    expect(refused.sweepAsText).toMatchObject({ class: 'TypeError', message: expect.stringContaining('sweep is a list') });
  });

  it('ends a follow with AuthenticationError when its token is revoked, the server saying so', async () => {
    const revocable = await createTestToken(running.services, { name: 'notebook-revocable' });
    const python = spawn(PYTHON, [SCENARIOS, 'revoked'], { env: pythonEnv({ MC_TOKEN: revocable, MC_SECOND_TOKEN: token }) });
    const lines: any[] = [];
    let stderr = '';
    python.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => python.on('close', resolve));
    let revoked: Promise<void> | undefined;
    createInterface({ input: python.stdout }).on('line', (line) => {
      lines.push(JSON.parse(line));
      // Subscribed, and the job read once: now the token goes.
      if ('update' in lines.at(-1)) revoked ??= running.services.tokens.revoke('notebook-revocable');
    });
    expect(await exited, stderr).toBe(0);
    await revoked;
    const result = lines.at(-1);
    expect(lines.filter((entry) => 'update' in entry).length).toBeGreaterThanOrEqual(1);
    expect(result.outcome).toMatchObject({ class: 'AuthenticationError', code: 'UNAUTHENTICATED', message: 'the API token of this subscription was revoked' });
    expect(result.cancelled).toBe('CANCELLED');
    expect((await jobOf(result.jobId)).state).toBe('CANCELLED');
  });
});
