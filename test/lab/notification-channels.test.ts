// Notifications beyond Web Push on the lab (issue 19): a real job's end, through the real server, reaches an ntfy
// topic, a Slack webhook and a mailbox (local receivers: an HTTP one, smtp-server with a login whose password is read
// from a file) exactly once each; a restart of the server after that sends nothing again; and a job that ends while
// the server is down is told once, by the server that starts after it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type SmtpReceiver } from '../notification-receivers.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab notification channels suite');

const PUBLIC_URL = 'https://mc.lab.example.org';
const PASSWORD = 'lab-smtp-password-8Wq';
const TOKEN = 'tk_lab_ntfy_token_3Rz';

describe.skipIf(!lab)('notification channels on the lab', () => {
  let dir: string;
  let running: Awaited<ReturnType<typeof startServer>> | null = null;
  let request: ReturnType<typeof graphqlClient>;
  let token: string;
  let ntfy: HttpReceiver;
  let chat: HttpReceiver;
  let smtp: SmtpReceiver;
  let projectId: number;

  const link = (id: number) => `${PUBLIC_URL}/jobs/${id}`;
  /** What each receiver got about a job: its link is in every message. */
  const received = (id: number) => ({
    ntfy: ntfy.items.filter((item) => item.json?.click === link(id)).length,
    chat: chat.items.filter((item) => (item.json?.text as string | undefined)?.includes(`<${link(id)}|`)).length,
    mail: smtp.items.filter((mail) => mail.text.includes(link(id))).length,
  });

  async function start(): Promise<void> {
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token ??= await createTestToken(running.services);
    request = graphqlClient(running.url, token);
  }

  async function stop(): Promise<void> {
    await running?.stop();
    running = null;
  }

  const job = async (id: number): Promise<{ name: string; state: string; slurmJobId: string | null }> =>
    (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { name state slurmJobId } } } }`, { id })).job.data;

  async function submit(sleepSeconds: number): Promise<number> {
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '100M', timeLimit: '5:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: sleepSeconds }, { path: 'epochs', value: 1 }] };
    const data = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input });
    if (data.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(data.submitJob)}`);
    return data.submitJob.data.id as number;
  }

  beforeAll(async () => {
    ntfy = await startHttpReceiver();
    chat = await startHttpReceiver();
    smtp = await startSmtpReceiver({ user: 'mc', password: PASSWORD });
    dir = mkdtempSync(join(tmpdir(), 'mc-notification-channels-'));
    writeFileSync(join(dir, 'ntfy-token'), TOKEN, { mode: 0o600 });
    writeFileSync(join(dir, 'smtp-password'), `${PASSWORD}\n`, { mode: 0o600 });
    const notifications = {
      destinations: {
        phone: { type: 'ntfy', url: `${ntfy.url}/lab-jobs`, tokenFile: 'ntfy-token' },
        team: { type: 'webhook', format: 'slack', url: `${chat.url}/hooks/T0/B0/lab` },
        mail: { type: 'email', to: 'jdoe@lab.example.org', from: 'Mission Control <mc@lab.example.org>', smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: 'mc', passwordFile: 'smtp-password' } },
      },
    };
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!) + stringify({ server: { publicUrl: PUBLIC_URL }, notifications }));
    await start();
    const repo = createFixtureRepo(lab!.user);
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work })).addProject.data.id;
  });
  afterAll(async () => {
    await stop();
    await ntfy?.close();
    await chat?.close();
    await smtp?.close();
  });

  it("tells a job's end to ntfy, the webhook and the mailbox once each, and not again after a restart", { timeout: 180_000 }, async () => {
    const id = await submit(2);
    await expect.poll(() => received(id), { timeout: 120_000, interval: 500 }).toEqual({ ntfy: 1, chat: 1, mail: 1 });
    const { name, state } = await job(id);
    expect(state).toBe('COMPLETED');
    const told = ntfy.items.find((item) => item.json?.click === link(id))!;
    expect(told.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(told.json).toMatchObject({ topic: 'lab-jobs', title: `${name} completed`, message: expect.stringMatching(/^Exit code 0 · lab/), tags: ['white_check_mark'] });
    expect(smtp.items.find((mail) => mail.text.includes(link(id)))).toMatchObject({ user: 'mc', subject: `${name} completed`, to: ['jdoe@lab.example.org'] });

    await stop();
    await start();
    // Several polls of the restarted server, which reads the ended job again: nothing is told twice.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    expect(received(id)).toEqual({ ntfy: 1, chat: 1, mail: 1 });
    expect(smtp.refusedLogins).toBe(0);
  });

  it('tells a job that ended while the server was down once, after it starts', { timeout: 240_000 }, async () => {
    const id = await submit(15);
    await expect.poll(async () => (await job(id)).state, { timeout: 120_000, interval: 1000 }).toBe('RUNNING');
    const { slurmJobId } = await job(id);
    await stop();
    // The cluster finishes it alone.
    await expect
      .poll(() => onLab(lab!, `sacct -n -X -P -o State -j ${slurmJobId}`).stdout.trim(), { timeout: 120_000, interval: 2000 })
      .toBe('COMPLETED');
    expect(received(id)).toEqual({ ntfy: 0, chat: 0, mail: 0 });
    await start();
    await expect.poll(() => received(id), { timeout: 120_000, interval: 500 }).toEqual({ ntfy: 1, chat: 1, mail: 1 });
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    expect(received(id)).toEqual({ ntfy: 1, chat: 1, mail: 1 });
  });
});
