// `npm start` and access: the first start pairs the phone, later starts never show a token again, and a server
// that would be open to the network without tokens refuses to start.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function setup(server: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mc-start-'));
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, `${server}clusters: {}\n`);
  return { configPath, dataDir: join(dir, 'data') };
}

const serverArgs = ({ configPath, dataDir }: ReturnType<typeof setup>, host: string) => ['--import', 'tsx', 'server/main.ts', '--config', configPath, '--data-dir', dataDir, '--port', '0', '--host', host];

/** Starts the server on loopback, waits until it printed `until`, runs `meanwhile`, stops it; returns what it printed. */
async function run(paths: ReturnType<typeof setup>, until: RegExp, meanwhile: (url: string) => Promise<void> = async () => undefined) {
  const child = spawn(process.execPath, serverArgs(paths, '127.0.0.1'), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await expect.poll(() => until.test(output), { timeout: 60_000, interval: 100 }).toBe(true);
    const url = /running at (http:\/\/\S+)/.exec(output)![1]!;
    await meanwhile(url);
    return { url, output };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const session = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"query":"{ session { tokenName authRequired } }"}' });

describe('starting the server', { timeout: 120_000 }, () => {
  it('on a fresh data directory makes a token named "phone" and prints its pairing link and QR code once', async () => {
    const paths = setup('');
    const first = await run(paths, /More devices/, async (url) => {
      expect((await session(url)).status).toBe(401);
    });
    const [, base, token] = /(http:\/\/\S+)\/#pair=(mc_[A-Za-z0-9_-]{43})/.exec(first.output) ?? [];
    expect(base).toBe(first.url);
    expect(first.output).toContain('API token "phone"');
    expect(first.output.split('\n').filter((line) => /[▀▄█]/.test(line)).length).toBeGreaterThan(10);

    const again = await run(paths, /API tokens are required/, async (url) => {
      expect(await (await session(url, { authorization: `Bearer ${token}` })).json()).toEqual({ data: { session: { tokenName: 'phone', authRequired: true } } });
    });
    expect(again.output).not.toMatch(/mc_[A-Za-z0-9_-]{43}/);
    expect(again.output).toContain('npm run token -- create --name <name>');
  });

  it.each([
    ['tokens are opted out', 'server:\n  auth:\n    allowLoopbackWithoutToken: true\n', /server\.auth\.allowLoopbackWithoutToken applies only to a server bound to loopback, and --host is 0\.0\.0\.0: remove it/],
    ['no token exists and none may be made', 'server:\n  auth:\n    createTokenAtFirstStart: false\n', /no API token exists and server\.auth\.createTokenAtFirstStart is false, .*run `npm run token -- create --name phone --data-dir .* --config .*` first$/],
  ])('refuses to listen beyond loopback when %s, with one line and status 2', (_case, server, message) => {
    const result = spawnSync(process.execPath, serverArgs(setup(server), '0.0.0.0'), { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(/^error: /);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stdout).not.toContain('running at');
  });

  it('with the opt-out on loopback, answers without a token and says so', async () => {
    const { output } = await run(setup('server:\n  auth:\n    allowLoopbackWithoutToken: true\n'), /API tokens are off/, async (url) => {
      expect(await (await session(url)).json()).toEqual({ data: { session: { tokenName: null, authRequired: false } } });
    });
    expect(output).not.toMatch(/#pair=/);
  });
});
