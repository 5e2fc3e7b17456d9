// A job put back in the queue by `scontrol requeue` while it runs (as preemption or an admin does, and as a job's own
// script does at its time limit), followed through the real server and poller over the real sshd: it keeps its SLURM
// id, goes PENDING (SLURM holds it back 2 minutes: reason BeginTime) and RUNNING again, and ends COMPLETED with one
// restart, never in a final state between its runs; a device registered over GraphQL hears one requeue and one end.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { TERMINAL_STATES } from '../../server/slurm/state.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { startPushReceiver, type PushReceiver, type ReceivedPush } from '../push-receiver.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab requeue suite');

/** Each run sleeps this long: time to requeue the first while it runs. */
const SLEEP = 30;

describe.skipIf(!lab)('a job requeued on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let phone: PushReceiver;
  let projectId: number;

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-requeue-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!) + stringify({ notifications: { allowLoopbackHttpEndpoints: true } }));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    phone = await startPushReceiver();
    const registered = await request(
      `mutation($input: PushSubscriptionInput!) { registerPushSubscription(input: $input) { __typename ... on MutationRegisterPushSubscriptionSuccess { data { requeuePushes } } ... on Error { message } } }`,
      { input: { endpoint: phone.endpoint, ...phone.keys } },
    );
    expect(registered.registerPushSubscription.data).toEqual({ requeuePushes: true });
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
    await phone?.close();
  });

  it('follows it through PENDING and RUNNING again to COMPLETED under the same id, restarts 1, one requeue push and one end push', { timeout: 420_000 }, async () => {
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '10:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: SLEEP }] };
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id slurmJobId } } ... on Error { message } } }`, { input });
    expect(submitted.submitJob.__typename).toBe('MutationSubmitJobSuccess');
    const { id, slurmJobId } = submitted.submitJob.data as { id: number; slurmJobId: string };

    // What a person sees, read from the server every 500 ms (the database, as the app and its subscription see it).
    const seen: Array<{ state: string; slurmJobId: string; restarts: number; endedAt: string | null }> = [];
    const read = async () => {
      const job = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state slurmJobId restarts endedAt startedAt requeues { at runStartedAt cause } } } } }`, { id })).job.data;
      const last = seen.at(-1);
      if (!last || last.state !== job.state || last.restarts !== job.restarts) seen.push({ state: job.state, slurmJobId: job.slurmJobId, restarts: job.restarts, endedAt: job.endedAt });
      return job;
    };
    const until = async (done: (job: any) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await read();
        if (done(job)) return job;
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    const firstRun = await until((job) => job.state === 'RUNNING', 90_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(onLab(lab!, `scontrol requeue ${slurmJobId}`).status).toBe(0);
    // SLURM's own word: the same id, back in the queue, one restart.
    const back = onLab(lab!, `scontrol show job ${slurmJobId} | grep -oE 'JobState=[A-Z_]+|Restarts=[0-9]+' | tr '\\n' ' '`).stdout;
    expect(back).toMatch(/JobState=(PENDING|REQUEUED|COMPLETING)/);
    expect(back).toContain('Restarts=1');

    const pending = await until((job) => job.restarts === 1 && job.state === 'PENDING', 60_000);
    expect(pending).toMatchObject({ endedAt: null, startedAt: null, requeues: [{ runStartedAt: firstRun.startedAt, cause: null }] });
    const requeuePush = await phone.waitFor((message: ReceivedPush) => message.json?.jobId === id && / requeued$/.test(message.json.title), 30_000);
    expect(requeuePush.json).toMatchObject({ body: `Job ${id} requeued (restart 1) · lab`, state: 'PENDING', url: `/jobs/${id}` });

    // SLURM lets it start again 2 minutes after the requeue.
    const secondRun = await until((job) => job.state === 'RUNNING', 240_000);
    expect(new Date(secondRun.startedAt).getTime()).toBeGreaterThan(new Date(firstRun.startedAt).getTime());
    const done = await until((job) => TERMINAL_STATES.has(job.state), 120_000);
    expect(done).toMatchObject({ state: 'COMPLETED', slurmJobId, restarts: 1 });
    expect(done.endedAt).not.toBeNull();

    // Never a final state between the runs; one id throughout.
    const states = seen.map((entry) => entry.state);
    expect(states.slice(0, -1).filter((state) => TERMINAL_STATES.has(state as never))).toEqual([]);
    expect(new Set(seen.map((entry) => entry.slurmJobId))).toEqual(new Set([slurmJobId]));
    expect(states).toContain('PENDING');
    expect(states.lastIndexOf('RUNNING')).toBeGreaterThan(states.indexOf('PENDING', states.indexOf('RUNNING')));

    await phone.waitFor((message: ReceivedPush) => message.json?.jobId === id && message.json.state === 'COMPLETED', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const titles = phone.messages.filter((message) => message.json?.jobId === id).map((message) => message.json.title);
    expect(titles.filter((title) => / requeued$/.test(title))).toHaveLength(1);
    expect(titles.filter((title) => / completed$| failed$| was cancelled$| timed out$/.test(title))).toEqual([expect.stringMatching(/ completed$/)]);
    expect(phone.errors).toEqual([]);
  });

  it("follows a job that requeues itself at its time limit (resume): one 'at its time limit (n of 2)' push per restart, as many as SLURM counts", { timeout: 600_000 }, async () => {
    // 120 s of training under a 2-minute limit, signalled 30 s before it: the job's own script checkpoints and requeues
    // it (test/lab/resume.test.ts checks the resuming), so the server sees its `requeued` record before SLURM's queue.
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '2:00', parameters: [{ path: 'sleep_seconds', value: 120 }, { path: 'epochs', value: 3 }], resume: { maxRestarts: 2, signalSeconds: 30, override: '+resume=true' } };
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id slurmJobId } } ... on Error { message } } }`, { input });
    expect(submitted.submitJob.__typename, JSON.stringify(submitted)).toBe('MutationSubmitJobSuccess');
    const { id, slurmJobId } = submitted.submitJob.data as { id: number; slurmJobId: string };
    const states: string[] = [];
    let job: any;
    const deadline = Date.now() + 560_000;
    for (;;) {
      job = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state restarts endedAt requeues { cause } } } } }`, { id })).job.data;
      if (states.at(-1) !== `${job.state}/${job.restarts}`) states.push(`${job.state}/${job.restarts}`);
      if (TERMINAL_STATES.has(job.state) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const slurmRestarts = Number(/Restarts=(\d+)/.exec(onLab(lab!, `scontrol show job ${slurmJobId}`).stdout)?.[1]);
    expect(job.state, states.join(' ')).toBe('COMPLETED');
    expect(slurmRestarts).toBeGreaterThanOrEqual(1);
    expect(job.restarts).toBe(slurmRestarts);
    expect(job.requeues.map((requeue: { cause: string | null }) => requeue.cause)).toEqual(Array(slurmRestarts).fill('TIME_LIMIT'));
    expect(states.slice(0, -1).filter((state) => TERMINAL_STATES.has(state.split('/')[0] as never)), states.join(' ')).toEqual([]);

    await phone.waitFor((message: ReceivedPush) => message.json?.jobId === id && message.json.state === 'COMPLETED', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const bodies = phone.messages.filter((message) => message.json?.jobId === id).map((message) => message.json.body.split(' · ')[0]);
    expect(bodies).toEqual([...Array.from({ length: slurmRestarts }, (_, index) => `Job ${id} requeued at its time limit (${index + 1} of 2)`), 'Exit code 0']);
  });
});
