// A live log's remote `tail -F` ends when its last watcher goes away, on a job that prints once and then stays
// quiet: the real server, the lab's sshd and the remote processes themselves (the lab is this machine, so they are
// looked for with pgrep as the lab user). Each way of leaving in turn: graphql-ws complete, a WebSocket that drops,
// an SSE request aborted. Then, with three jobs left behind, a fourth is still followed (the lab's default 6
// channels allow 3 live logs at once: before, each leaver kept its tail until the job's next line).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { startServer } from '../../server/main.js';
import { jobPaths } from '../../server/slurm/layout.js';
import { authHeaders, createTestToken, graphqlClient, wsConnectionParams } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite } from './lab-env.js';

const lab = labForSuite('lab log-tail leak suite');

const JOB_LOG = 'subscription($id: Int!) { jobLog(jobId: $id) { ... on JobLogChunk { jobId fromByte text } } }';
const LEAVE_WITHIN_MS = 2000;

describe.skipIf(!lab)('a live log whose watcher leaves a quiet job', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let token: string;
  const clients: Client[] = [];
  /** The four quiet jobs, with the output file each one's remote tail follows. */
  const jobs: Array<{ id: number; output: string }> = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-log-leak-'));
    writeFileSync(join(dir, 'clusters.yaml'), stringify({ clusters: { lab: labClusterEntry(lab!) } }));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services, { name: 'log-leak' });
    request = graphqlClient(running.url, token);
    const repo = createFixtureRepo(lab!.user);
    const projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
    // The fixture prints its config and W&B lines at once, then one progress step every sleep_seconds / 5: quiet
    // for five minutes, longer than this suite.
    for (let index = 0; index < 4; index++) {
      const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, {
        input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '30:00', parameters: [{ path: 'epochs', value: 1 }, { path: 'sleep_seconds', value: 1500 }] },
      });
      const id = submitted.submitJob.data.id;
      const job = await running.services.jobs.get(running.services.orm.em.fork(), id);
      jobs.push({ id, output: jobPaths(job.jobDir).output });
    }
  }, 180_000);
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    for (const job of jobs) await request(`mutation($id: Int!) { cancelJob(id: $id) { __typename } }`, { id: job.id }).catch(() => undefined);
    await running?.stop();
  });

  let started: Promise<void> | undefined;
  /** Waits (once, inside the first test: expect.poll needs one) until every job runs and has printed its lines. */
  function jobsPrinted(): Promise<void> {
    const state = async (id: number) => (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id })).job.data.state;
    started ??= (async () => {
      for (const job of jobs) {
        await expect.poll(() => state(job.id), { timeout: 60_000, interval: 500 }).toBe('RUNNING');
        await expect.poll(() => readFileSync(job.output, 'utf8'), { timeout: 30_000, interval: 200 }).toContain('View run at');
      }
    })();
    return started;
  }

  /** The lab user's processes following this output file (the remote tail, and a shell around it if any). */
  function remoteTails(output: string): number[] {
    try {
      const pattern = `tail .*-F -- ${output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
      return execFileSync('pgrep', ['-u', lab!.user, '-f', pattern], { encoding: 'utf8' }).trim().split('\n').map(Number);
    } catch (error) {
      if ((error as { status?: number }).status === 1) return []; // pgrep: nothing matched
      throw error;
    }
  }

  /** Milliseconds from leaving until no remote tail of the output is left, polled every 50 ms; fails past the bound. */
  async function tailGoneAfter(output: string, leave: () => unknown): Promise<number> {
    expect(remoteTails(output)).not.toEqual([]);
    const leftAt = Date.now();
    await leave();
    await expect.poll(() => remoteTails(output), { timeout: LEAVE_WITHIN_MS, interval: 50 }).toEqual([]);
    return Date.now() - leftAt;
  }

  function wsClient(onSocket?: (socket: WebSocket) => void): Client {
    const client = createClient({
      url: `${running.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: wsConnectionParams(token),
      on: { connected: (socket) => onSocket?.(socket as WebSocket) },
    });
    clients.push(client);
    return client;
  }

  /** Subscribes over graphql-ws and waits for the first chunk (the tail's 64 kB) and the remote tail it came from. */
  async function followOverWs(client: Client, job: { id: number; output: string }) {
    await jobsPrinted();
    const chunks: string[] = [];
    const errors: unknown[] = [];
    const unsubscribe = client.subscribe(
      { query: JOB_LOG, variables: { id: job.id } },
      { next: (value) => (value.errors ? errors.push(value.errors) : chunks.push((value.data as any).jobLog.text)), error: (error) => errors.push(error), complete: () => undefined },
    );
    await expect.poll(() => ({ errors, printed: chunks.join('').includes('View run at') }), { timeout: 10_000, interval: 50 }).toEqual({ errors: [], printed: true });
    await expect.poll(() => remoteTails(job.output).length, { timeout: 5_000, interval: 50 }).toBeGreaterThan(0);
    return unsubscribe;
  }

  it('over graphql-ws, completing the subscription ends the remote tail within 2 s', async () => {
    const unsubscribe = await followOverWs(wsClient(), jobs[0]!);
    const ms = await tailGoneAfter(jobs[0]!.output, unsubscribe);
    console.log(`graphql-ws complete → remote tail gone: ${ms} ms`);
  });

  it('over graphql-ws, a socket that drops ends the remote tail within 2 s', async () => {
    let socket: WebSocket | undefined;
    await followOverWs(
      wsClient((opened) => (socket = opened)),
      jobs[1]!,
    );
    // No close frame, no complete: the connection is simply gone, as when a phone loses its network.
    const ms = await tailGoneAfter(jobs[1]!.output, () => socket!.terminate());
    console.log(`WebSocket dropped → remote tail gone: ${ms} ms`);
  });

  it('over SSE, aborting the request ends the remote tail within 2 s', async () => {
    const job = jobs[2]!;
    await jobsPrinted();
    const aborting = new AbortController();
    const url = `${running.url}/graphql?${new URLSearchParams({ query: JOB_LOG, variables: JSON.stringify({ id: job.id }) })}`;
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...authHeaders(token) }, signal: aborting.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes('View run at')) received += new TextDecoder().decode((await reader.read()).value);
    await expect.poll(() => remoteTails(job.output).length, { timeout: 5_000, interval: 50 }).toBeGreaterThan(0);
    const ms = await tailGoneAfter(job.output, () => aborting.abort());
    console.log(`SSE aborted → remote tail gone: ${ms} ms`);
  });

  it('after three jobs were left, a fourth job is still followed, not refused with LOG_TAIL_LIMIT', async () => {
    const unsubscribe = await followOverWs(wsClient(), jobs[3]!);
    await tailGoneAfter(jobs[3]!.output, unsubscribe);
  });
});
