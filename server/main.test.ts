// The CLI refuses a bad clusters.yaml, or a database it cannot use, with one line naming the file, and never starts
// listening; a start that fails half-way leaves nothing open.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { testEngine } from '../test/database-engine.js';
import { makeUnwritable } from '../test/unwritable.js';

const temporary: string[] = [];
const undo: Array<() => void> = [];
afterAll(() => {
  for (const restore of undo) restore();
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const VALID = 'clusters:\n  hpc:\n    host: login.example.edu\n    user: me\n    agent: true\n';

/** Runs the server's CLI on `yaml` as its config; `dataDir` defaults to a fresh one. */
function start(yaml: string, dataDir?: (dir: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), 'mc-main-'));
  temporary.push(dir);
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, yaml);
  const data = dataDir?.(dir) ?? join(dir, 'data');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', '--config', configPath, '--data-dir', data, '--port', '0'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ...result, configPath, dataDir: data };
}

// A child node with tsx takes 6–8 s to load the server on a busy machine: the child's own 30 s timeout is the bound,
// not vitest's 5 s default.
it.each([
  ['a typo in a field', 'clusters:\n  hpc:\n    hots: login.example.edu\n    user: me\n    agent: true\n', 'cluster "hpc": unknown field "hots" (did you mean "host"?)'],
  ['a missing host', 'clusters:\n  hpc:\n    user: me\n    agent: true\n', 'cluster "hpc": field "host" is required'],
])('exits with status 2 on %s', (_case, yaml, expected) => {
  const result = start(yaml);
  expect(result.status).toBe(2);
  expect(result.stderr.trim()).toBe(`error: ${result.configPath}: ${expected}`);
  expect(result.stdout).not.toContain('running at');
}, 60_000);

// Before: a stack trace (SQLITE_NOTADB, SQLITE_CANTOPEN) and exit status 1.
it('exits with status 2 and one line naming the database on a file that is not one', () => {
  const result = start(VALID, (dir) => {
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'mission-control.sqlite'), 'not a database, just some text that fills the header and more of it\n'.repeat(100));
    return join(dir, 'data');
  });
  expect(result.status).toBe(2);
  expect(result.stderr.trim()).toMatch(new RegExp(`^error: ${result.dataDir}/mission-control\\.sqlite: not a usable SQLite database \\(SQLITE_NOTADB: file is not a database\\); stop the server and copy your latest backup over it \\(\`npm run backup\` keeps them in ${result.dataDir}/backups/\\)[^\\n]*$`));
  expect(result.stdout).not.toContain('running at');
}, 60_000);

it('exits with status 2 and one line naming the path on a data directory it cannot write', (context) => {
  let unwritable = true;
  const result = start(VALID, (dir) => {
    mkdirSync(join(dir, 'data'));
    const restore = makeUnwritable(join(dir, 'data'));
    if (restore) undo.push(restore);
    else unwritable = false;
    return join(dir, 'data');
  });
  if (!unwritable) return context.skip('neither permissions nor chattr +i can make a directory unwritable here');
  expect(result.status).toBe(2);
  expect(result.stderr.trim()).toBe(
    `error: ${result.dataDir}/mission-control.sqlite: cannot be written (SQLITE_CANTOPEN: unable to open database file): the server writes the database and its -wal and -shm files in the directory ${result.dataDir}; give its user write access there, or choose another directory with --data-dir (MC_DATA_DIR)`,
  );
  expect(result.stdout).not.toContain('running at');
}, 60_000);

it('closes everything a start opened when the start fails half-way (the port is taken)', async () => {
  const { startServer } = await import('./main.js');
  const dir = mkdtempSync(join(tmpdir(), 'mc-main-'));
  temporary.push(dir);
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, 'clusters:\n  here:\n    transport: local\n');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  const watchers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'FSEventWrap').length;
  const before = watchers();
  try {
    await expect(startServer({ configPath, dataDir: join(dir, 'data'), port, host: '127.0.0.1', dev: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The config watcher is closed, and so is the database: SQLite removes its WAL file when its last connection
    // closes (on PostgreSQL, the server's own connections are counted in tests of the engine: server/db/postgresql.test.ts).
    expect(watchers()).toBe(before);
    if (testEngine === 'sqlite') {
      expect(existsSync(join(dir, 'data', 'mission-control.sqlite'))).toBe(true);
      expect(existsSync(join(dir, 'data', 'mission-control.sqlite-wal'))).toBe(false);
    }
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});
