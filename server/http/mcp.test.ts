// The MCP door through the SDK's own client over Streamable HTTP: who may open a session and what it gets (a read-only
// token only the read tools), a session bound to its token and ended by its revocation, tools answering from the
// same resolvers as GraphQL (typed errors included), waiting for a job's end and a resource's update notice. The
// cluster is a fake transport; test/lab/mcp.test.ts launches and follows real jobs through the lab's SLURM.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken } from '../../test/graphql-client.js';
import { KEY_PATH, startMcpTestApp, type McpTestApp } from '../../test/mcp-app.js';
import { captureLogs } from '../lib/log.js';
import { Job, type Project } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { Services } from '../services.js';

const WRITE_TOOLS = ['cancel_job', 'cancel_sweep', 'relaunch_failed_tasks', 'submit_preview'];

describe('the MCP door (/mcp)', () => {
  let running: McpTestApp;
  let orm: Orm;
  let services: Services;
  let url: string;
  let project: Project;
  let fullToken: string;
  let readOnlyToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    running = await startMcpTestApp();
    ({ orm, services, url, project } = running);
    fullToken = await createTestToken(services, { name: 'agent' });
    readOnlyToken = await createTestToken(services, { name: 'watcher', readOnly: true });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await running.stop();
  });

  async function connect(token: string | undefined): Promise<Client> {
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
    clients.push(client);
    return client;
  }

  const insertJob = (state: 'RUNNING' | 'PENDING') => running.insertJob(state);
  const end = (job: Job, state?: Job['state']) => running.endJob(job, state);

  const textOf = (result: unknown) => (result as CallToolResult).content.map((item) => (item.type === 'text' ? item.text : '')).join('\n');
  const valueOf = (result: unknown) => JSON.parse((result as CallToolResult).content[0]!.type === 'text' ? ((result as CallToolResult).content[0] as { text: string }).text : 'null');

  it('gives a full token every tool, with input schemas taken from the GraphQL inputs', async () => {
    const client = await connect(fullToken);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['list_clusters', 'gpu_availability', 'search_jobs', 'get_job', 'job_log', 'job_metrics', 'get_sweep', 'project_form', 'preview_launch', 'preview_sweep', 'wait_for_jobs', ...WRITE_TOOLS]));
    const preview = tools.find((tool) => tool.name === 'preview_launch')!;
    // JobInput's own fields and descriptions: one place for what a launch takes.
    expect(preview.inputSchema.required).toEqual(expect.arrayContaining(['cluster', 'projectId']));
    expect(JSON.stringify(preview.inputSchema.properties)).toContain('submitJob refuses with a ValidationError on `commit`');
    expect(tools.find((tool) => tool.name === 'cancel_job')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(tools.find((tool) => tool.name === 'get_job')!.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('gives a read-only token only the read tools, and refuses a write tool called anyway', async () => {
    const client = await connect(readOnlyToken);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('get_job');
    for (const name of WRITE_TOOLS) expect(names).not.toContain(name);
    const job = await insertJob('RUNNING');
    const result = (await client.callTool({ name: 'cancel_job', arguments: { id: job.id } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/cancel_job not found/);
    expect((await orm.em.fork().findOneOrFail(Job, job.id)).state).toBe('RUNNING');
  });

  it('refuses a request without a token, or with an unknown one, with 401 and the reason', async () => {
    for (const authorization of [undefined, 'Bearer mc_notarealtoken']) {
      const response = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect((await response.json()).error.message).toMatch(authorization ? /unknown or revoked API token/ : /an API token is required/);
    }
    await expect(connect(undefined)).rejects.toThrow(/401|token/);
  });

  it('binds a session to its token: another token cannot use its session id', async () => {
    const client = await connect(fullToken);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const response = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${readOnlyToken}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(response.status).toBe(403);
    expect((await response.json()).error.message).toMatch(/another token/);
  });

  it('ends a session when its token is revoked: the next call is refused', async () => {
    const token = await createTestToken(services, { name: 'doomed' });
    const client = await connect(token);
    expect((await client.callTool({ name: 'list_clusters', arguments: {} })).isError).toBeFalsy();
    const before = await running.sessions();
    await services.tokens.revoke('doomed');
    // Closed by the revocation watch itself, not only refused at its next request.
    await expect.poll(() => running.sessions()).toBe(before - 1);
    await expect(client.callTool({ name: 'list_clusters', arguments: {} })).rejects.toThrow(/401|revoked/);
  });

  it('answers tools from the same resolvers as GraphQL: a job, its log, a typed error by name', async () => {
    const client = await connect(fullToken);
    const job = await insertJob('RUNNING');
    const got = valueOf(await client.callTool({ name: 'get_job', arguments: { id: job.id } }));
    expect(got).toMatchObject({ id: job.id, name: 'resnet-lr', state: 'RUNNING', cluster: 'alpha', slurmJobId: '4242' });
    const listed = valueOf(await client.callTool({ name: 'search_jobs', arguments: { search: 'resnet' } }));
    expect(listed.nodes.map((row: { id: number }) => row.id)).toContain(job.id);
    const log = (await client.callTool({ name: 'job_log', arguments: { id: job.id } })) as CallToolResult;
    expect(log.isError, textOf(log)).toBeFalsy();
    expect(textOf(log)).toContain('epoch 1 loss 0.5');
    const missing = (await client.callTool({ name: 'get_job', arguments: { id: 999_999 } })) as CallToolResult;
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/^NotFoundError: /);
    // zod refuses what the schema would, before any operation: a model reads why.
    const invalid = (await client.callTool({ name: 'job_log', arguments: { id: job.id, tailBytes: 10 * 1024 * 1024 } })) as CallToolResult;
    expect(invalid.isError).toBe(true);
    expect(textOf(invalid)).toMatch(/tailBytes/);
  });

  it('refuses to submit a tag this session did not preview', async () => {
    const client = await connect(fullToken);
    const result = (await client.callTool({ name: 'submit_preview', arguments: { tag: 'abcdef123456' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/no preview with tag "abcdef123456" in this session/);
  });

  it('waits for jobs to end, without a remote command, and returns at its deadline when they do not', async () => {
    const client = await connect(fullToken);
    const [first, second] = [await insertJob('RUNNING'), await insertJob('PENDING')];
    const progress: string[] = [];
    const commandsBefore = running.cluster.commands.length;
    const waiting = client.callTool({ name: 'wait_for_jobs', arguments: { ids: [first.id, second.id], timeoutSeconds: 30 } }, undefined, { onprogress: (update) => void progress.push(update.message ?? '') });
    // Its first notice says it is watching both: ended from here on, each end is heard.
    await expect.poll(() => progress).toEqual([`watching job ${first.id}: RUNNING, job ${second.id}: PENDING`]);
    await end(first);
    await end(second, 'FAILED');
    const result = valueOf(await waiting);
    expect(result.ended).toBe(true);
    expect(result.jobs).toEqual(expect.arrayContaining([expect.objectContaining({ id: first.id, state: 'COMPLETED' }), expect.objectContaining({ id: second.id, state: 'FAILED' })]));
    expect(progress).toEqual(expect.arrayContaining([`job ${first.id}: COMPLETED`, `job ${second.id}: FAILED`]));
    // Told by the poller's events: waiting ran nothing on the cluster.
    expect(running.cluster.commands.length).toBe(commandsBefore);

    const still = await insertJob('RUNNING');
    const startedAt = Date.now();
    const timedOut = valueOf(await client.callTool({ name: 'wait_for_jobs', arguments: { ids: [still.id], timeoutSeconds: 1 } }));
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(timedOut).toMatchObject({ ended: false, jobs: [{ id: still.id, state: 'RUNNING' }], sweeps: [] });

    // A client that retries a wait it gave up on must not pile them up: four at a time per session.
    const waits = [1, 2, 3, 4].map(() => client.callTool({ name: 'wait_for_jobs', arguments: { ids: [still.id], timeoutSeconds: 3 } }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fifth = (await client.callTool({ name: 'wait_for_jobs', arguments: { ids: [still.id], timeoutSeconds: 1 } })) as CallToolResult;
    expect(fifth.isError).toBe(true);
    expect(textOf(fifth)).toMatch(/waiting in 4 calls already/);
    expect((await Promise.all(waits)).every((result) => !result.isError)).toBe(true);
    const missing = (await client.callTool({ name: 'wait_for_jobs', arguments: { ids: [999_999] } })) as CallToolResult;
    expect(textOf(missing)).toMatch(/^NotFoundError: /);
  });

  it("tells a session subscribed to a job's resource when the job ends", async () => {
    const client = await connect(readOnlyToken);
    const job = await insertJob('RUNNING');
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updated.push(notification.params.uri));
    await client.subscribeResource({ uri: `mission-control://jobs/${job.id}` });
    await client.subscribeResource({ uri: `mission-control://jobs/${job.id}/log` });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(updated).toEqual([]);
    await end(job);
    await expect.poll(() => updated.sort()).toEqual([`mission-control://jobs/${job.id}`, `mission-control://jobs/${job.id}/log`]);
    const read = await client.readResource({ uri: `mission-control://jobs/${job.id}` });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ id: job.id, state: 'COMPLETED' });
    await expect(client.subscribeResource({ uri: 'mission-control://nothing/1' })).rejects.toThrow(/not a resource of this server/);
    await expect(client.subscribeResource({ uri: 'mission-control://jobs/999999' })).rejects.toThrow(/NotFoundError/);
    // Subscribed after it ended: told at once.
    const ended = await insertJob('RUNNING');
    await end(ended, 'FAILED');
    await client.subscribeResource({ uri: `mission-control://jobs/${ended.id}` });
    await expect.poll(() => updated).toContain(`mission-control://jobs/${ended.id}`);
  });

  it('forgets a closed session cleanly: the sessions opened after a DELETE all work', async () => {
    const token = await createTestToken(services, { name: 'churn' });
    const before = await running.sessions();
    const opened = [await connect(token), await connect(token), await connect(token), await connect(token)];
    await (opened[1]!.transport as StreamableHTTPClientTransport).terminateSession();
    const more = [await connect(token), await connect(token)];
    for (const client of [opened[0]!, opened[2]!, opened[3]!, ...more]) expect((await client.callTool({ name: 'list_clusters', arguments: {} })).isError).toBeFalsy();
    expect(await running.sessions()).toBe(before + 5);
    // The count Prometheus scrapes.
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(`mc_mcp_sessions_open ${before + 5}\n`);
  });

  it("keeps at most 20 sessions of one token, its oldest going first, and never another token's for it", async () => {
    const token = await createTestToken(services, { name: 'crowd' });
    const bystander = await connect(readOnlyToken);
    const crowd: Client[] = [];
    for (let session = 0; session < 21; session++) crowd.push(await connect(token));
    await expect(crowd[0]!.listTools()).rejects.toThrow(/unknown or expired MCP session/);
    for (const client of [crowd[1]!, crowd[20]!, bystander]) expect((await client.listTools()).tools.length).toBeGreaterThan(5);
  });

  it("is held to GraphQL's rate limits: a loop reading one job's log is refused with when to try again", async () => {
    const client = await connect(fullToken);
    const job = await insertJob('RUNNING');
    const results: CallToolResult[] = [];
    for (let call = 0; call < 8; call++) results.push((await client.callTool({ name: 'job_log', arguments: { id: job.id, tailBytes: 1024 } })) as CallToolResult);
    expect(results.slice(0, 6).every((result) => !result.isError)).toBe(true);
    expect(results.at(-1)!.isError).toBe(true);
    expect(textOf(results.at(-1))).toMatch(/^RateLimitedError: .* Try again in \d+ s\.$/);
  });

  it("redacts a key file's path in what a tool answers, as GraphQL does", async () => {
    const client = await connect(fullToken);
    const job = await insertJob('RUNNING');
    const answer = running.cluster.answer;
    running.cluster.answer = () => ({ stdout: '', stderr: `Load key "${KEY_PATH}": bad permissions`, exitCode: 255, durationMs: 1 });
    try {
      const result = (await client.callTool({ name: 'job_log', arguments: { id: job.id } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('bad permissions');
      expect(textOf(result)).not.toContain(KEY_PATH);
      expect(textOf(result)).toContain('<identityFile>');
    } finally {
      running.cluster.answer = answer;
    }
  });

  it("logs each tool's GraphQL operation with the id of the /mcp request it came in on", async () => {
    const client = await connect(fullToken);
    const logs = captureLogs('debug');
    try {
      await client.callTool({ name: 'list_projects', arguments: {} });
      const entries = logs.entries();
      const operation = entries.find((entry) => entry.msg === 'operation' && entry.type === 'query');
      expect(operation).toMatchObject({ outcome: 'ok', requestId: expect.any(String) });
      expect(entries.find((entry) => entry.msg === 'request' && entry.requestId === operation!.requestId)).toMatchObject({ path: '/mcp', method: 'POST' });
    } finally {
      logs.stop();
    }
  });

  it('refuses a body over the limit, and goes on serving, its refusal logged', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${fullToken}` };
    // At info, as the server runs: the refusal's request line is written (it once read a destroyed request's socket).
    const logs = captureLogs('info');
    try {
      for (const megabytes of [1.01, 8]) {
        const large = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(megabytes * 1024 * 1024) } }) });
        expect(large.status).toBe(413);
        expect((await large.json()).error.message).toMatch(/over 1048576 bytes/);
      }
      await expect.poll(() => logs.entries().filter((entry) => entry.msg === 'request' && entry.status === 413).length).toBe(2);
    } finally {
      logs.stop();
    }
    expect((await (await connect(fullToken)).listTools()).tools.length).toBeGreaterThan(5);
  });

  it('refuses a page of another origin, and a request without a session', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${fullToken}` };
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const crossSite = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, origin: 'https://evil.example' }, body: JSON.stringify(initialize) });
    expect(crossSite.status).toBe(403);
    expect((await crossSite.json()).error.message).toMatch(/another origin/);
    const sameSite = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, origin: url }, body: JSON.stringify(initialize) });
    expect(sameSite.status).toBe(200);
    const orphan = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(orphan.status).toBe(400);
    expect((await orphan.json()).error.message).toMatch(/initialize/);
    const unknown = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, 'mcp-session-id': 'no-such-session' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(unknown.status).toBe(404);
  });
});
