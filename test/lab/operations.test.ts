// Operations on the lab (issue 19): the real server as a child process, its stdout the log a service manager would
// keep, at debug from the config. A launch's remote commands appear with their kind, duration, exit code and byte
// counts; the whole log holds no API token, key path, password file path or SMTP password; /healthz, /readyz and
// /metrics answer as specified (a cluster that cannot be reached is named by /readyz, which stays 200), and /metrics
// follows the job (its state's count, the commands counted by kind, the mail sent).
import { spawn, type ChildProcess } from 'node:child_process';
import { databaseArgs } from '../database-engine.js';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../free-port.js';
import { createTokenInDataDir, graphqlClient } from '../graphql-client.js';
import { startSmtpReceiver, type SmtpReceiver } from '../notification-receivers.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite } from './lab-env.js';

const lab = labForSuite('lab operations suite');
const ROOT = join(import.meta.dirname, '..', '..');
const SMTP_PASSWORD = 'ops-smtp-password-Zq81';
const CLUSTER_PASSWORD = 'ops-cluster-password-Kd27';

type Entry = Record<string, any>;

describe.skipIf(!lab)('operations on the lab', { timeout: 180_000 }, () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';
  let url: string;
  let token: string;
  let smtp: SmtpReceiver;
  let request: ReturnType<typeof graphqlClient>;
  const secretPaths: string[] = [];
  let goneKey: string;

  /** The log so far, one JSON entry per line (the banner and pairing notice are not JSON and not the log). */
  const entries = (): Entry[] =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Entry);
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  /** A sample's value in the exposition text, or null when the series is absent. */
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : null;
  };

  beforeAll(async () => {
    smtp = await startSmtpReceiver({ user: 'mc', password: SMTP_PASSWORD });
    dir = mkdtempSync(join(tmpdir(), 'mc-operations-'));
    const passwordFile = join(dir, 'lab-password');
    const smtpPasswordFile = join(dir, 'smtp-password');
    // The key is accepted first, so this password is read at each connect and never sent; it must never be logged.
    writeFileSync(passwordFile, `${CLUSTER_PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(smtpPasswordFile, `${SMTP_PASSWORD}\n`, { mode: 0o600 });
    // The unreachable cluster's own copy of the key, removed later so that a connection attempt names it.
    goneKey = join(dir, 'gone-key');
    copyFileSync(lab!.identityFile, goneKey);
    secretPaths.push(lab!.identityFile, lab!.knownHostsFile, passwordFile, smtpPasswordFile, goneKey);
    const closedPort = await freePort();
    const config = {
      server: { logLevel: 'debug', metricsAccess: 'loopback' },
      clusters: {
        lab: { ...labClusterEntry(lab!), passwordFile },
        // Nothing listens there: a cluster that cannot be reached.
        gone: { ...labClusterEntry(lab!), identityFile: goneKey, port: closedPort, connectTimeoutMs: 2_000 },
      },
      notifications: {
        destinations: {
          mail: { type: 'email', to: 'ops@lab.example.org', from: 'mc@lab.example.org', smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', user: 'mc', passwordFile: smtpPasswordFile } },
        },
      },
    };
    writeFileSync(join(dir, 'clusters.yaml'), stringify(config));
    // Made before the start, as `npm run token` would: a first start would print a new token for the person.
    token = await createTokenInDataDir(join(dir, 'data'));
    const env = { ...process.env };
    // The server's own level, from the config: neither the environment's nor the test runner's quiet default.
    delete env.MC_LOG_LEVEL;
    delete env.VITEST;
    child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--config', join(dir, 'clusters.yaml'), '--data-dir', join(dir, 'data'), ...(await databaseArgs(join(dir, 'data'))), '--port', '0', '--host', '127.0.0.1'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const deadline = Date.now() + 60_000;
    while (!/running at (http:\/\/\S+)/.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    url = /running at (http:\/\/\S+)/.exec(output)![1]!;
    request = graphqlClient(url, token);
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // What the server printed, kept for a look after a failure.
    if (dir) writeFileSync(join(dir, 'server-output.log'), output);
    await smtp?.close();
  });

  it('is healthy, and ready with a cluster it cannot reach, which /readyz names and nothing more', async () => {
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    let body: any;
    await expect
      .poll(async () => {
        const response = await fetch(`${url}/readyz`);
        expect(response.status).toBe(200);
        body = await response.json();
        return Object.fromEntries(body.clusters.map((cluster: Entry) => [cluster.name, cluster.reachable]));
      }, { timeout: 30_000, interval: 500 })
      .toEqual({ lab: true, gone: false });
    expect(body).toMatchObject({ status: 'ready', checks: { migrations: 'applied', config: 'valid', poller: 'running' } });
    expect(body.clusters).toContainEqual({ name: 'lab', reachable: true, stale: false, needsReauth: false });
    const text = JSON.stringify(body);
    for (const hidden of [lab!.user, String(lab!.port), ...secretPaths]) expect(text).not.toContain(hidden);
    expect(sample(await metrics(), 'mc_cluster_reachable{cluster="gone"}')).toBe(0);
  });

  it("runs a launch whose remote commands are logged and counted, while /metrics follows the job", async () => {
    const before = await metrics();
    expect(sample(before, 'mc_remote_commands_total{cluster="lab",kind="submit",result="ok"}')).toBeNull();
    const repo = createFixtureRepo(lab!.user);
    const added = await request(`mutation AddProject($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    const projectId = added.addProject.data.id as number;
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '100M', timeLimit: '5:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: 8 }, { path: 'epochs', value: 1 }] };
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'ops-launch-1' },
      body: JSON.stringify({ query: 'mutation Launch($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }', variables: { input } }),
    });
    expect(response.headers.get('x-request-id')).toBe('ops-launch-1');
    const submitted = (await response.json()) as any;
    expect(submitted.data.submitJob.__typename).toBe('MutationSubmitJobSuccess');
    const jobId = submitted.data.submitJob.data.id as number;

    // The job's count by state moves with it: seen running, then completed.
    await expect.poll(async () => sample(await metrics(), 'mc_jobs{state="RUNNING"}'), { timeout: 60_000, interval: 500 }).toBe(1);
    await expect.poll(async () => sample(await metrics(), 'mc_jobs{state="COMPLETED"}'), { timeout: 90_000, interval: 1000 }).toBe(1);
    const after = await metrics();
    expect(sample(after, 'mc_jobs{state="RUNNING"}')).toBeNull();
    expect(sample(after, 'mc_remote_commands_total{cluster="lab",kind="submit",result="ok"}')).toBe(1);
    expect(sample(after, 'mc_remote_commands_total{cluster="lab",kind="poll",result="ok"}')).toBeGreaterThan(0);
    expect(sample(after, 'mc_remote_command_duration_seconds_count{cluster="lab",kind="submit"}')).toBe(1);
    expect(sample(after, 'mc_ssh_connects_total{cluster="lab"}')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'mc_poll_duration_seconds_count{cluster="lab",result="ok"}')).toBeGreaterThan(0);
    expect(after).toMatch(/^graphql_envelop_request_duration_count\{[^}]*operationName="Launch"[^}]*\} 1$/m);
    expect(sample(after, 'nodejs_eventloop_lag_seconds')).not.toBeNull();

    // The job's end reached the mailbox (a login with the password from its file), and was counted.
    await smtp.waitFor(() => true, 30_000);
    await expect.poll(async () => sample(await metrics(), 'mc_notifications_sent_total{channel="email",result="ok"}'), { timeout: 30_000 }).toBeGreaterThanOrEqual(1);

    const log = entries();
    const commands = log.filter((entry) => entry.component === 'ssh' && entry.msg === 'remote command' && entry.cluster === 'lab');
    const submit = commands.find((entry) => entry.kind === 'submit');
    expect(submit).toMatchObject({ level: 'debug', exitCode: 0, durationMs: expect.any(Number), stdoutBytes: expect.any(Number), stderrBytes: expect.any(Number) });
    expect(submit!.stdoutBytes).toBeGreaterThan(0);
    for (const kind of ['probe', 'poll', 'lifecycle-watch']) expect(commands.map((entry) => entry.kind)).toContain(kind);
    expect(log).toContainEqual(expect.objectContaining({ component: 'ssh', cluster: 'lab', msg: 'connected' }));
    expect(log).toContainEqual(expect.objectContaining({ component: 'jobs', jobId, from: 'PENDING', to: 'RUNNING', msg: 'job state changed' }));
    expect(log).toContainEqual(expect.objectContaining({ component: 'http', requestId: 'ops-launch-1', operation: 'Launch', type: 'mutation', outcome: 'ok', msg: 'operation' }));
    console.log(`operations suite (output in ${dir}/server-output.log): ${log.length} log lines, ${commands.length} remote commands of ${new Set(commands.map((entry) => entry.kind)).size} kinds; submit took ${submit!.durationMs} ms`);
  });

  it("logs a failure that names a key file (a key removed under a running server) with the field's name, not the path", async () => {
    rmSync(goneKey);
    // Each attempt reads the key first; after the backoff of the last refused connection, an attempt finds it gone.
    let error = '';
    for (let attempt = 0; attempt < 6 && !error.includes('ENOENT'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const data = await request(`mutation { testClusterConnection(name: "gone") { ... on MutationTestClusterConnectionSuccess { data { error } } ... on Error { message } } }`);
      error = data.testClusterConnection.data?.error ?? '';
    }
    // The API's own redaction (server/http/redaction.ts) shows the field too.
    expect(error).toContain("open '<identityFile>'");
    const failure = entries().find((entry) => entry.cluster === 'gone' && entry.msg === 'remote command failed' && String(entry.error).includes('ENOENT'));
    expect(failure?.error).toContain("open '<identityFile>'");
  });

  it('writes no token, key path, password file path or password anywhere in its output', () => {
    expect(output.length).toBeGreaterThan(1_000);
    for (const secret of [token, ...secretPaths, SMTP_PASSWORD, CLUSTER_PASSWORD]) expect(output).not.toContain(secret);
    // Not even the start of one.
    expect(output).not.toMatch(/mc_[A-Za-z0-9_-]{16,}/);
  });
});
