// Live status against the lab: subscriptions over graphql-ws, with the lab beside a cluster that never answers
// and one whose sshd is gone. The poll interval is 60 s, so what arrives within seconds came from the job's own
// lifecycle files and the early confirmation poll they trigger.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { cleanLog } from '../../server/jobs/log-text.js';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient, wsConnectionParams } from '../graphql-client.js';
import { readmePython } from '../readme-snippets.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab live-status suite');

describe.skipIf(!lab)('live status', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let ws: Client;
  let token: string;
  let blackHole: Server;
  const sockets: Socket[] = [];
  let projectId: number;
  /** The first test's job, COMPLETED: its log is read by a later test. */
  let completedJob: { id: number; tag: string } | undefined;

  beforeAll(async () => {
    // Accepts connections and never says a word: what a hung login node looks like.
    blackHole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const blackHolePort = (blackHole.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'mc-live-'));
    const entry = { ...labClusterEntry(lab!), pollIntervalSeconds: 60 };
    writeFileSync(
      join(dir, 'clusters.yaml'),
      stringify({ clusters: { lab: entry, hung: { ...entry, port: blackHolePort, connectTimeoutMs: 2000 }, gone: { ...entry, port: 1 } } }),
    );
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services, { name: 'live' });
    request = graphqlClient(running.url, token);
    ws = createClient({ url: `${running.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: wsConnectionParams(token) });
    const repo = createFixtureRepo(lab!.user);
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
  });
  afterAll(async () => {
    await ws?.dispose();
    await running?.stop();
    sockets.forEach((socket) => socket.destroy());
    blackHole?.close();
  });

  function collect(query: string, variables: Record<string, unknown> = {}) {
    const received: Array<{ at: number; data: any }> = [];
    const stop = ws.subscribe({ query, variables }, { next: (value) => received.push({ at: Date.now(), data: value.data }), error: () => undefined, complete: () => undefined });
    return { received, stop };
  }

  it('reports a job RUNNING and COMPLETED over jobUpdated within seconds, untouched by the broken clusters', async () => {
    const external = onLab(lab!, `sbatch --parsable -p cpu --mem=100M --wrap='sleep 60'`).stdout.trim();
    const updates = collect('subscription($projectId: Int) { jobUpdated(projectId: $projectId) { id state exitCode slurmJobId } }', { projectId });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id tag state } } ... on Error { message } } }`, {
      input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 4 }] },
    });
    const job = submitted.submitJob.data;
    expect(job.state).toBe('PENDING');

    const states = () => updates.received.filter((update) => update.data.jobUpdated.id === job.id).map((update) => update.data.jobUpdated.state);
    await expect.poll(states, { timeout: 30_000, interval: 200 }).toContain('RUNNING');
    await expect.poll(states, { timeout: 30_000, interval: 200 }).toContain('COMPLETED');
    const completed = updates.received.find((update) => update.data.jobUpdated.id === job.id && update.data.jobUpdated.state === 'COMPLETED')!;
    expect(completed.data.jobUpdated.exitCode).toBe(0);
    completedJob = job;

    // The job script's own end record (whole seconds) against the moment the subscriber heard of the end.
    const finished = onLab(lab!, `cat ~/mission-control/jobs/${job.tag}/events/finished`).stdout.split(' ');
    const endedAt = Number(finished[0]) * 1000;
    const firstEndUpdate = updates.received.find((update) => update.data.jobUpdated.id === job.id && ['COMPLETING', 'COMPLETED'].includes(update.data.jobUpdated.state))!;
    console.log(`job end → jobUpdated: ${firstEndUpdate.at - endedAt} ms (end known to the second); COMPLETED after ${completed.at - endedAt} ms`);
    expect(firstEndUpdate.at - endedAt).toBeLessThanOrEqual(3000 + 1000);
    updates.stop();

    // The same poll saw the job submitted outside Mission Control.
    const { clusters } = await request('{ clusters { name externalJobs { slurmJobId state } } }');
    expect(clusters.find((cluster: { name: string }) => cluster.name === 'lab').externalJobs).toContainEqual({ slurmJobId: external, state: expect.stringMatching(/PENDING|RUNNING/) });
    onLab(lab!, `scancel ${external}`);
  });

  it('streams a running job\'s log lines over jobLog within 2 s of their being written', async () => {
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id tag } } } }`, {
      input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 6 }] },
    });
    const job = submitted.submitJob.data;
    const states = collect('subscription($ids: [Int!]) { jobUpdated(jobIds: $ids) { state } }', { ids: [job.id] });
    await expect.poll(() => states.received.map((update) => update.data.jobUpdated.state), { timeout: 30_000, interval: 200 }).toContain('RUNNING');
    const log = collect('subscription($id: Int!) { jobLog(jobId: $id) { ... on JobLogChunk { jobId fromByte text } } }', { id: job.id });
    const text = () => log.received.map((chunk) => chunk.data.jobLog.text).join('');
    await expect.poll(text, { timeout: 20_000, interval: 100 }).toContain('wandb: ');
    await expect.poll(text, { timeout: 30_000, interval: 100 }).toContain('done\n');
    const doneAt = log.received.find((chunk) => chunk.data.jobLog.text.includes('done\n'))!.at;
    // The script writes "done" and exits at once; its end record is to the second.
    const finished = Number(onLab(lab!, `cat ~/mission-control/jobs/${job.tag}/events/finished`).stdout.split(' ')[0]) * 1000;
    console.log(`log line → jobLog subscriber: ${doneAt - finished} ms (end known to the second)`);
    expect(doneAt - finished).toBeLessThanOrEqual(2000 + 1000);
    expect(text()).not.toMatch(/\r|\x1b\[/);
    log.stop();
    states.stop();
  });

  it("sends a finished job's output over jobLog from the cluster, then completes", async () => {
    expect(completedJob).toBeDefined();
    const output = onLab(lab!, `cat ~/mission-control/jobs/${completedJob!.tag}/output.log`).stdout;
    expect(output).toContain('done\n');
    const received: any[] = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`jobLog of a finished job did not complete within 10 s; received ${JSON.stringify(received)}`)), 10_000);
      ws.subscribe(
        { query: 'subscription($id: Int!) { jobLog(jobId: $id) { __typename ... on JobLogChunk { jobId fromByte text } ... on Error { message } } }', variables: { id: completedJob!.id } },
        { next: (value) => void received.push(value.data?.jobLog), error: reject, complete: () => (clearTimeout(timer), resolve()) },
      );
    });
    console.log(`jobLog of a finished job: ${received.length} event(s), completed after ${Date.now() - started} ms`);
    // The whole output fits in 64 kB: one chunk from byte 0, the file as the live log sends it (progress bars collapsed).
    expect(received).toEqual([{ __typename: 'JobLogChunk', jobId: completedJob!.id, fromByte: 0, text: cleanLog(output, { collapseProgress: true }) }]);
    expect(received[0].text).toMatch(/Epoch 1: 100%.*\ndone\n$/);
  });

  it('shows the two broken clusters with their own errors', async () => {
    const { clusters } = await request('{ clusters { name reachable error } }');
    const byName = Object.fromEntries(clusters.map((cluster: { name: string }) => [cluster.name, cluster]));
    expect(byName.lab).toMatchObject({ reachable: true, error: null });
    expect(byName.gone).toMatchObject({ reachable: false, error: expect.stringContaining('ECONNREFUSED') });
    await expect.poll(async () => (await request('{ clusters { name reachable error } }')).clusters.find((c: { name: string }) => c.name === 'hung'), { timeout: 15_000 }).toMatchObject({
      reachable: false,
      error: expect.stringMatching(/handshake/i),
    });
  });

  it('pushes a cluster status change to clusterStatus subscribers', async () => {
    const statuses = collect('subscription { clusterStatus { name reachable error } }');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await request('mutation { testClusterConnection(name: "gone") { __typename } }');
    await expect.poll(() => statuses.received.map((status) => status.data.clusterStatus.name), { timeout: 10_000 }).toContain('gone');
    expect(statuses.received.find((status) => status.data.clusterStatus.name === 'gone')!.data.clusterStatus).toMatchObject({ reachable: false });
    statuses.stop();
  });

  it("runs the README's notebook snippet: lists jobs and follows the newest over SSE until it ends", async () => {
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } } }`, {
      input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 3 }, { path: 'exit_code', value: 3 }] },
    });
    // The bare urllib snippet (not the client's, not the sweep's).
    const snippet = readmePython(['urllib.request', 'jobUpdated'], ['submitSweep']).replace('http://127.0.0.1:4000', running.url);
    // Asynchronously: the server answering it runs in this very process.
    // The notebook's own token, as the README tells a user to make one.
    const notebookToken = await createTestToken(running.services, { name: 'notebook', readOnly: true });
    const { stdout } = await promisify(execFile)('python3', ['-c', snippet], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, MC_TOKEN: notebookToken } });
    expect(stdout).toContain(`${submitted.submitJob.data.id} ml-project`);
    expect(stdout).toMatch(new RegExp(`job ${submitted.submitJob.data.id} FAILED 3\n`));
    expect(stdout.trim().endsWith('final state: FAILED')).toBe(true);
  });
});
