// `npm run --silent mcp`, started as an agent starts a tool (a process on stdio), through the SDK's own stdio client:
// it relays to the running server's /mcp, so its tools and its token's rights are the server's; a refused token is
// a JSON-RPC error with the server's reason; a server restart costs the agent nothing (the session is opened again).
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestToken } from '../../test/graphql-client.js';
import { startMcpTestApp, type McpTestApp } from '../../test/mcp-app.js';
import { proxyOptions } from './mcp.js';

describe('npm run mcp (stdio)', () => {
  let running: McpTestApp;
  const dir = mkdtempSync(join(tmpdir(), 'mc-mcp-stdio-'));
  const clients: Client[] = [];

  beforeAll(async () => {
    running = await startMcpTestApp();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await running.stop();
  });

  async function tokenFile(name: string, readOnly = false): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, `${await createTestToken(running.services, { name, readOnly })}\n`);
    chmodSync(file, 0o600);
    return file;
  }

  async function startAgentTool(file: string): Promise<{ client: Client; stderr: () => string }> {
    const transport = new StdioClientTransport({ command: 'npm', args: ['run', '--silent', 'mcp', '--', '--token-file', file, '--url', running.url], stderr: 'pipe', cwd: process.cwd() });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return { client, stderr: () => stderr };
  }

  it("serves the server's tools for the token's rights", async () => {
    const { client } = await startAgentTool(await tokenFile('stdio-agent'));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['list_clusters', 'preview_launch', 'submit_preview']));
    const clusters = (await client.callTool({ name: 'list_clusters', arguments: {} })) as CallToolResult;
    expect(JSON.parse((clusters.content[0] as { text: string }).text)).toEqual([expect.objectContaining({ name: 'alpha' })]);

    const { client: watcher } = await startAgentTool(await tokenFile('stdio-watcher', true));
    expect((await watcher.listTools()).tools.map((tool) => tool.name)).not.toContain('submit_preview');
  });

  it("answers with the server's reason once the token is revoked", async () => {
    const { client, stderr } = await startAgentTool(await tokenFile('stdio-doomed'));
    await running.services.tokens.revoke('stdio-doomed');
    await expect(client.listTools()).rejects.toThrow(/unknown or revoked API token/);
    expect(stderr()).toMatch(/unknown or revoked API token/);
  });

  it('opens the session again when the server restarted and forgot it, once for calls made together, its subscriptions with it', async () => {
    const { client } = await startAgentTool(await tokenFile('stdio-restart'));
    expect((await client.listTools()).tools.length).toBeGreaterThan(10);
    const job = await running.insertJob('RUNNING');
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updated.push(notification.params.uri));
    await client.subscribeResource({ uri: `mission-control://jobs/${job.id}` });
    const progress: string[] = [];
    const cutOff = client
      .callTool({ name: 'wait_for_jobs', arguments: { ids: [job.id], timeoutSeconds: 50 } }, undefined, { onprogress: (update) => void progress.push(update.message ?? '') })
      .then(() => 'answered', (error: Error) => error.message);
    await expect.poll(() => progress.length).toBe(1);
    await running.restart();
    const results = (await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'list_projects', arguments: {} })))) as CallToolResult[];
    for (const result of results) {
      expect(result.isError).toBeFalsy();
      expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual([expect.objectContaining({ id: running.project.id })]);
    }
    // One new session for the three calls, the old one forgotten with the server; the wait that ran on it is told.
    expect(await running.sessions()).toBe(1);
    expect(await cutOff).toMatch(/the server restarted during this call, and forgot it: call it again/);
    await running.endJob(job);
    await expect.poll(() => updated).toEqual([`mission-control://jobs/${job.id}`]);
  });

  it("connects as the README's two agent configurations say, as written", async () => {
    interface AgentEntry {
      type?: string;
      url?: string;
      headers?: Record<string, string>;
      command?: string;
      args?: string[];
    }
    const entries = [...readFileSync('README.md', 'utf8').matchAll(/```json\n([\s\S]*?)```/g)]
      .filter((match) => match[1]!.includes('"mcpServers"'))
      .flatMap((match) => Object.values((JSON.parse(match[1]!) as { mcpServers: Record<string, AgentEntry> }).mcpServers));
    const overHttp = entries.find((entry) => entry.type === 'http')!;
    const overStdio = entries.find((entry) => entry.command)!;
    expect([overHttp, overStdio].every(Boolean)).toBe(true);

    // The agent expands ${MC_AGENT_TOKEN} from its environment; the README's port is this server's here.
    const token = await createTestToken(running.services, { name: 'readme-http' });
    const headers = Object.fromEntries(Object.entries(overHttp.headers!).map(([name, value]) => [name, value.replace('${MC_AGENT_TOKEN}', token)]));
    const url = new URL(new URL(overHttp.url!).pathname, running.url);
    const httpClient = new Client({ name: 'readme-http', version: '1.0.0' });
    await httpClient.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
    clients.push(httpClient);
    expect((await httpClient.listTools()).tools.map((tool) => tool.name)).toContain('submit_preview');

    // The checkout's path and the token file's are the user's; the server's address comes from MC_URL.
    const file = await tokenFile('readme-stdio', true);
    const args = overStdio.args!.map((arg) => (arg === '/path/to/mission-control' ? process.cwd() : arg.endsWith('/agent-token') ? file : arg));
    expect(args).toContain(file);
    const stdioClient = new Client({ name: 'readme-stdio', version: '1.0.0' });
    await stdioClient.connect(new StdioClientTransport({ command: overStdio.command!, args, env: { ...(process.env as Record<string, string>), MC_URL: running.url }, stderr: 'ignore' }));
    clients.push(stdioClient);
    expect((await stdioClient.listTools()).tools.map((tool) => tool.name)).not.toContain('submit_preview');
  });

  it('refuses a missing or empty token file and a bad URL before starting', () => {
    expect(() => proxyOptions([])).toThrow(/--token-file is required/);
    expect(() => proxyOptions(['--token-file', join(dir, 'absent')])).toThrow(/absent: no such file/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(() => proxyOptions(['--token-file', empty])).toThrow(/holds no API token/);
    const good = join(dir, 'good');
    writeFileSync(good, 'mc_abc\n', { mode: 0o600 });
    expect(() => proxyOptions(['--token-file', good, '--url', 'ftp://x'])).toThrow(/must be http/);
    expect(proxyOptions(['--token-file', good], { MC_PORT: '4100' })).toMatchObject({ token: 'mc_abc', url: new URL('http://127.0.0.1:4100') });
  });
});
