// An agent on the lab: the MCP SDK's own client over Streamable HTTP (and the stdio entry) against a server on the real
// SLURM through the real sshd. It finds the project's form, previews a launch (the exact script and SLURM's verdict),
// submits it by its tag, is told when it ends and reads its log and curves; runs a sweep with a failing task and
// relaunches it; cancels a job; and is held to its token's rights: read-only gets no write tool, none or a revoked
// token nothing.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite } from './lab-env.js';

const lab = labForSuite('lab MCP suite');

describe.skipIf(!lab)('an agent over MCP on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;
  let dir: string;
  let agentToken: string;
  const clients: Client[] = [];

  const launch = (extra: Record<string, unknown> = {}) => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 2 }], ...extra });

  async function connect(token: string | undefined): Promise<Client> {
    const client = new Client({ name: 'lab-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} } }));
    clients.push(client);
    return client;
  }

  /** A tool's JSON answer and its texts; a tool error fails the test with the tool's words. */
  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ value: any; texts: string[] }> {
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 180_000 })) as CallToolResult;
    const texts = result.content.map((item) => (item.type === 'text' ? item.text : ''));
    if (result.isError) throw new Error(`${name}: ${texts.join('\n')}`);
    return { value: JSON.parse(texts[0]!), texts: texts.slice(1) };
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    dir = mkdtempSync(join(tmpdir(), 'mc-lab-mcp-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services, { name: 'setup' }));
    projectId = (await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work })).addProject.data.id;
    agentToken = await createTestToken(running.services, { name: 'agent' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await running?.stop();
  });

  it('lists the tools, previews a launch, submits it by its tag, is told when it COMPLETED, reads its log and metrics', async () => {
    const client = await connect(agentToken);
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['list_clusters', 'gpu_availability', 'project_form', 'preview_launch', 'submit_preview', 'wait_for_jobs', 'job_log', 'job_metrics']));

    expect((await call(client, 'list_projects')).value).toEqual([expect.objectContaining({ id: projectId })]);
    const form = (await call(client, 'project_form', { projectId })).value;
    expect(form.primaries).toContain('train');
    expect(form.parameters.map((parameter: { path: string }) => parameter.path)).toContain('sleep_seconds');
    expect((await call(client, 'list_clusters')).value).toEqual([expect.objectContaining({ name: 'lab', reachable: true })]);
    expect((await call(client, 'gpu_availability', { cluster: 'lab' })).value.byType).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'a100' })]));

    const preview = await call(client, 'preview_launch', launch());
    expect(preview.value.tag).toMatch(/^[a-z0-9]{12}$/);
    expect(preview.value.preflight.outcome).toBe('ACCEPTED');
    const script = preview.texts[0]!;
    expect(script).toMatch(/^#!\/bin\/bash/);
    expect(script).toContain('#SBATCH --mem=200M');

    const answer = (await call(client, 'submit_preview', { tag: preview.value.tag })).value;
    expect(answer.scriptAsPreviewed).toBe(true);
    const submitted = answer.job;
    expect(submitted).toMatchObject({ cluster: 'lab', slurmJobId: expect.stringMatching(/^\d+$/) });
    // Exactly the script the agent was shown.
    const stored = await request('query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { script tag } } } }', { id: submitted.id });
    expect(stored.job.data).toEqual({ script, tag: preview.value.tag });
    // The same tag twice is refused by the server, not submitted again.
    await expect(call(client, 'submit_preview', { tag: preview.value.tag })).rejects.toThrow(/LaunchAlreadySubmittedError/);

    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updated.push(notification.params.uri));
    await client.subscribeResource({ uri: `mission-control://jobs/${submitted.id}` });
    const waited = (await call(client, 'wait_for_jobs', { ids: [submitted.id], timeoutSeconds: 120 })).value;
    expect(waited).toMatchObject({ ended: true, jobs: [{ id: submitted.id, state: 'COMPLETED', exitCode: 0 }] });
    await expect.poll(() => updated, { timeout: 10_000 }).toEqual([`mission-control://jobs/${submitted.id}`]);

    const log = await call(client, 'job_log', { id: submitted.id });
    expect(log.value.state).toBe('COMPLETED');
    expect(log.texts[0]).toContain('config: train');
    const resource = await client.readResource({ uri: `mission-control://jobs/${submitted.id}/log` });
    expect((resource.contents[0] as { text: string }).text).toContain('config: train');
    // An ended job's files are read one last time within a few seconds of its end.
    await expect.poll(async () => (await call(client, 'job_metrics', { id: submitted.id, names: ['loss'], maxPoints: 5 })).value.metrics[0]?.total ?? 0, { timeout: 30_000, interval: 1000 }).toBeGreaterThan(0);
    const job = (await call(client, 'get_job', { id: submitted.id })).value;
    expect(job).toMatchObject({ state: 'COMPLETED', tag: preview.value.tag, startedAt: expect.any(String), endedAt: expect.any(String) });
    expect(job.metricNames).toContain('loss');
  });

  it('runs a sweep with a failing task, reads its table with a metric and relaunches the failure', async () => {
    const client = await connect(agentToken);
    const preview = await call(client, 'preview_sweep', { job: launch({ parameters: [{ path: 'sleep_seconds', value: 1 }] }), sweep: ['exit_code=0,3'] });
    expect(preview.value).toMatchObject({ count: 2, varying: ['exit_code'], runs: [{ index: 0, overrides: ['exit_code=0'] }, { index: 1, overrides: ['exit_code=3'] }] });
    // One script for every task: each reads its own overrides by its array index.
    expect(preview.texts[0]).toContain('/tasks/%a/output.log');
    // Another session of the same token never saw this preview: it cannot submit it.
    const other = await connect(agentToken);
    await expect(call(other, 'submit_preview', { tag: preview.value.tag })).rejects.toThrow(/no preview with tag ".*" in this session/);
    const submitted = (await call(client, 'submit_preview', { tag: preview.value.tag })).value;
    expect(submitted.scriptAsPreviewed).toBe(true);
    const sweep = submitted.sweep;
    expect(sweep).toMatchObject({ size: 2, arrayJobId: expect.stringMatching(/^\d+$/) });

    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updated.push(notification.params.uri));
    await client.subscribeResource({ uri: `mission-control://sweeps/${sweep.id}` });
    const waited = (await call(client, 'wait_for_jobs', { sweepIds: [sweep.id], timeoutSeconds: 120 })).value;
    expect(waited).toMatchObject({ ended: true, jobs: [], sweeps: [{ id: sweep.id, state: 'COMPLETED_WITH_FAILURES', endedAt: expect.any(String) }] });
    await expect.poll(() => updated, { timeout: 10_000, interval: 500 }).toEqual([`mission-control://sweeps/${sweep.id}`]);

    let table: any;
    // A task's exit code can come a poll after its end (from accounting when the queue no longer shows it), and an
    // ended task's metric files are read one last time within a few seconds of its end.
    await expect
      .poll(async () => {
        table = (await call(client, 'get_sweep', { id: sweep.id, metric: 'loss' })).value;
        return [table.state, table.runs.map((run: any) => [run.values, run.task.state, run.task.exitCode, run.loss !== null])];
      }, { timeout: 30_000, interval: 1000 })
      .toEqual([
        'COMPLETED_WITH_FAILURES',
        [
          [['0'], 'COMPLETED', 0, true],
          [['3'], 'FAILED', 3, true],
        ],
      ]);
    // Each run's last value of the metric beside it: which run wins is one call.
    expect(table.runs[0].loss).toMatchObject({ step: expect.any(Number), value: expect.any(Number) });
    const relaunched = (await call(client, 'relaunch_failed_tasks', { id: sweep.id })).value;
    expect(relaunched.retries).toBe(1);
    const tasks = (await call(client, 'search_jobs', { sweepId: sweep.id })).value.nodes;
    expect(tasks).toHaveLength(3);
    await call(client, 'cancel_sweep', { id: sweep.id });
  });

  it('cancels a running job', async () => {
    const client = await connect(agentToken);
    const preview = await call(client, 'preview_launch', launch({ parameters: [{ path: 'sleep_seconds', value: 120 }] }));
    const job = (await call(client, 'submit_preview', { tag: preview.value.tag })).value.job;
    await call(client, 'cancel_job', { id: job.id });
    expect((await call(client, 'wait_for_jobs', { ids: [job.id], timeoutSeconds: 60 })).value.jobs).toEqual([expect.objectContaining({ id: job.id, state: 'CANCELLED' })]);
  });

  it("holds an agent to its token's rights: read-only gets no write tool; no token or a revoked one, nothing", async () => {
    const watcher = await connect(await createTestToken(running.services, { name: 'watcher', readOnly: true }));
    const names = (await watcher.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('preview_launch');
    expect(names.filter((name) => ['submit_preview', 'cancel_job', 'cancel_sweep', 'relaunch_failed_tasks'].includes(name))).toEqual([]);
    // It may look at a launch, never submit it.
    const preview = await call(watcher, 'preview_launch', launch());
    await expect(call(watcher, 'submit_preview', { tag: preview.value.tag })).rejects.toThrow(/submit_preview not found/);
    const jobs = await request('query($search: String) { jobs(filter: { search: $search }) { nodes { tag } } }', { search: '' });
    expect(jobs.jobs.nodes.map((job: { tag: string }) => job.tag)).not.toContain(preview.value.tag);

    await expect(connect(undefined)).rejects.toThrow(/an API token is required/);
    const revokedToken = await createTestToken(running.services, { name: 'revoked-agent' });
    const revoked = await connect(revokedToken);
    await running.services.tokens.revoke('revoked-agent');
    await expect(revoked.listTools()).rejects.toThrow(/unknown or revoked API token/);
    await expect(connect(revokedToken)).rejects.toThrow(/unknown or revoked API token/);
  });

  it('serves the same tools over stdio (npm run mcp) to an agent that starts its tools as processes', async () => {
    const tokenFile = join(dir, 'agent-token');
    writeFileSync(tokenFile, `${agentToken}\n`);
    chmodSync(tokenFile, 0o600);
    const client = new Client({ name: 'lab-stdio-agent', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: 'npm', args: ['run', '--silent', 'mcp', '--', '--token-file', tokenFile, '--url', running.url], stderr: 'ignore' }));
    clients.push(client);
    const found = await call(client, 'search_jobs', { states: ['COMPLETED'], first: 5 });
    expect(found.value.nodes.length).toBeGreaterThan(0);
    const { value } = await call(client, 'get_job', { id: found.value.nodes[0].id });
    expect(value).toMatchObject({ state: 'COMPLETED', cluster: 'lab' });
  });
});
