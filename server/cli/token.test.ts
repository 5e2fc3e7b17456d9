// `npm run token` as a user runs it: a real child process on the server's data directory, beside a running server.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseArgs } from '../../test/database-engine.js';
import { startServer } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-token-cli-'));
const dataDir = join(dir, 'data');
const configPath = join(dir, 'clusters.yaml');
writeFileSync(configPath, 'server:\n  publicUrl: https://mc.example.org/\nclusters: {}\n');
// On the PostgreSQL run, the database that stands for the data directory's, as the server beside it opens it.
const database = await databaseArgs(dataDir);

/** The CLI as `npm run token --` runs it (the first test goes through npm itself; npm only adds seconds). */
function token(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/token.ts', ...args, '--data-dir', dataDir, ...database, '--config', configPath], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const TOKEN = /mc_[A-Za-z0-9_-]{43}/g;

describe('npm run token', { timeout: 120_000 }, () => {
  let phone = '';

  it('create prints the token once, its pairing link on server.publicUrl and a terminal QR code', () => {
    const created = spawnSync('npm', ['run', '--silent', 'token', '--', 'create', '--name', 'phone', '--data-dir', dataDir, ...database, '--config', configPath], { encoding: 'utf8', timeout: 60_000 });
    expect(created.stderr.replace(/^npm warn .*\n/gm, '')).toBe('');
    expect(created.status).toBe(0);
    const tokens = [...new Set(created.stdout.match(TOKEN))];
    expect(tokens).toHaveLength(1);
    phone = tokens[0]!;
    expect(created.stdout).toContain(`https://mc.example.org/#pair=${phone}`);
    // QRCode's terminal renderer draws with half blocks.
    expect(created.stdout.split('\n').filter((line) => /[▀▄█]/.test(line)).length).toBeGreaterThan(10);
  });

  it('refuses a name in use and a missing name', () => {
    const again = token('create', '--name', 'phone');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^error: name: a token named "phone" exists already/);
    expect(again.stdout).not.toMatch(TOKEN);
    expect(token('create').status).toBe(2);
    expect(token('frobnicate').status).toBe(2);
  });

  it('list shows names, rights and last use, never a token', () => {
    expect(token('create', '--name', 'dashboard', '--read-only').status).toBe(0);
    const listed = token('list');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +USER +RIGHTS +CREATED +LAST USED\ndashboard +owner +read-only +\d{4}-\d\d-\d\d \d\d:\d\d UTC +never\nphone +owner +read-write +.* +never\n$/);
    expect(listed.stdout).not.toMatch(TOKEN);
  });

  describe('beside a running server on the same data directory', () => {
    let running: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      running = await startServer({ configPath, dataDir, port: 0, host: '127.0.0.1', dev: false });
    }, 60_000);
    afterAll(() => running?.stop());

    const session = (bearer: string) =>
      fetch(`${running.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: '{"query":"{ session { tokenName } }"}' });

    it('the server took the CLI token and made no first token of its own', async () => {
      expect(running.accessNotice).not.toMatch(TOKEN);
      expect(running.accessNotice).toContain('npm run token -- create --name <name>');
      expect(await (await session(phone)).json()).toEqual({ data: { session: { tokenName: 'phone' } } });
      await expect.poll(() => token('list').stdout).toMatch(/\nphone +owner +read-write +\S+ \S+ UTC +\d{4}-\d\d-\d\d \d\d:\d\d UTC\n/);
    });

    it('revoke refuses the token from the next request on', async () => {
      const revoked = token('revoke', 'phone');
      expect(revoked.status).toBe(0);
      expect(revoked.stdout).toContain('revoked "phone"');
      expect((await session(phone)).status).toBe(401);
      expect(token('list').stdout).not.toMatch(/^phone /m);
      const unknown = token('revoke', 'phone');
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toBe('error: no token named "phone"\n');
    });

    it('create --output writes a token the server takes to a new file only its owner reads, and prints no token', async () => {
      const file = join(dir, 'agent-token');
      const created = token('create', '--name', 'agent', '--read-only', '--output', file);
      expect(created.status).toBe(0);
      expect(created.stdout).toMatch(/created read-only token "agent" in .*agent-token/);
      expect(created.stdout).not.toMatch(TOKEN);
      expect(readFileSync(file, 'utf8')).toMatch(/^mc_[A-Za-z0-9_-]{43}\n$/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(await (await session(readFileSync(file, 'utf8').trim())).json()).toEqual({ data: { session: { tokenName: 'agent' } } });
      const again = token('create', '--name', 'agent2', '--output', file);
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/exists already \(a token file is never overwritten\)/);
    });
  });

  it('list and revoke refuse a directory without a database (a wrong --data-dir)', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/token.ts', 'list', '--data-dir', join(dir, 'elsewhere')], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no database at');
  });
});
