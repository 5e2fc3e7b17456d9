// The production start as a user installs it: `npm run build:server` then package.json's start script (compiled
// JavaScript, no TypeScript loader), under the systemd unit in config/ (checked by systemd's own verifier). The
// compiled server must do what the TypeScript one does, including the project reader's worker thread, which is a
// separate entry of the build.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const unitFile = join(root, 'config/mission-control.service');
const startScript = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
const dir = mkdtempSync(join(tmpdir(), 'mc-deploy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  execFileSync('npm', ['run', '--silent', 'build:server'], { cwd: root, stdio: 'pipe' });
}, 120_000);

it('npm start runs the compiled server, with no TypeScript loader', () => {
  expect(startScript).toMatch(/^node (--enable-source-maps )?dist\/server\.js$/);
});

it("the systemd unit runs package.json's start script, restarts on failure, and passes systemd-analyze verify", () => {
  const unit = readFileSync(unitFile, 'utf8');
  expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/${startScript.replace(/[.]/g, '\\.')}$`, 'm'));
  expect(unit).toMatch(/^Restart=on-failure$/m);
  // Verify warns about unknown keys and a missing executable on stderr; it needs /usr/bin/node to exist.
  const verified = spawnResult('systemd-analyze', ['verify', unitFile]);
  expect(verified.stderr).toBe('');
  expect(verified.status).toBe(0);
});

function spawnResult(command: string, args: string[]) {
  try {
    return { status: 0, stderr: execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) && '' };
  } catch (error) {
    const failed = error as { status: number; stderr: string };
    return { status: failed.status, stderr: failed.stderr };
  }
}

it('the compiled server starts as the unit starts it (config and data from the environment) and reads a project in its worker', async () => {
  const project = join(dir, 'ml-project');
  cpSync(join(root, 'test/fixtures/ml-project'), project, { recursive: true });
  for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'fixture']]) execFileSync('git', args, { cwd: project });
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, 'clusters: {}\nserver:\n  auth:\n    allowLoopbackWithoutToken: true\n');
  const [node, ...args] = startScript.split(' ');
  const child = spawn(node === 'node' ? process.execPath : node!, args, {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', MC_CONFIG: configPath, MC_DATA_DIR: join(dir, 'data'), MC_HOST: '127.0.0.1', MC_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const started = () => {
        const match = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      child.stdout.on('data', started);
      void exited.then(() => reject(new Error(`the server exited with status ${child.exitCode}`)));
    });
    const ask = async (query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return (await response.json()) as { data: Record<string, any>; errors?: unknown[] };
    };
    const added = await ask('mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id name } } ... on Error { message } } }', { path: project });
    expect(added.errors).toBeUndefined();
    const id = added.data.addProject.data.id as number;
    const form = await ask('query($id: Int!) { hydraConfig(projectId: $id) { ... on QueryHydraConfigSuccess { data { configDir parameters { path } } } ... on Error { message } } }', { id });
    expect(form.errors).toBeUndefined();
    expect(form.data.hydraConfig.data.parameters.map((parameter: { path: string }) => parameter.path)).toContain('optimizer.lr');
    // The MCP door, a chunk of its own loaded at the first request (server/cli/build.mjs splits it out).
    const mcp = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'deploy-check', version: '1' } } }),
    });
    expect(mcp.status).toBe(200);
    expect(mcp.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await mcp.text()).toContain('"name":"mission-control"');
    expect(output).not.toMatch(/tsx|\.ts:\d+/);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nserver output:\n${output}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}, 40_000);
