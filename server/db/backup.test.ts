// Backups taken while another process keeps writing: each copy passes SQLite's integrity check, holds the rows, and
// holds every write transaction whole or not at all (each one writes a job and its matching cluster_check row).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupDatabase, BackupError } from './backup.js';
import { Job, Project } from './entities.js';
import { initOrm } from './orm.js';

const dataDir = join(mkdtempSync(join(tmpdir(), 'mc-backup-')), 'data');
const database = join(dataDir, 'mission-control.sqlite');

// A second process writing as the server does (WAL, busy timeout), one job and one cluster_check row per transaction.
const WRITER = `
const sqlite3 = require('sqlite3');
const db = new sqlite3.Database(process.argv[1]);
db.configure('busyTimeout', 5000);
let n = 0, stopping = false;
process.on('SIGTERM', () => { stopping = true; });
db.exec('pragma journal_mode = wal; pragma synchronous = normal', function write(error) {
  if (error) { console.error(error); process.exit(1); }
  if (stopping) return db.close(() => process.exit(0));
  n++;
  const now = Date.now();
  db.exec(\`begin immediate;
    insert into job (tag, project_id, cluster, name, description, commit_sha, input, script, job_dir, state, archived, created_at, updated_at)
      values ('w\${n}', 1, 'lab', 'writer', 'written while backing up', '\${'c'.repeat(40)}', '{}', '#!/bin/sh', '/w/\${n}', 'PENDING', 0, \${now}, \${now});
    insert into cluster_check (cluster, reachable, partitions, checked_at) values ('w\${n}', 1, '[]', \${now});
    commit;\`, write);
});
`;

function query(path: string, sql: string, mode = sqlite3.OPEN_READONLY): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (error) => {
      if (error) return reject(error);
      db.all(sql, (queryError, rows) => db.close(() => (queryError ? reject(queryError) : resolve(rows as Array<Record<string, unknown>>))));
    });
  });
}

async function writerRows(copy: string): Promise<number> {
  const [jobs] = await query(copy, "select count(*) as n from job where tag like 'w%'");
  const [checks] = await query(copy, "select count(*) as n from cluster_check where cluster like 'w%'");
  // A transaction cut in half would show as a job without its row, or the other way round.
  expect(jobs!.n).toBe(checks!.n);
  return jobs!.n as number;
}

describe('backups while the database is being written', () => {
  let writer: ChildProcess;
  let writerDone: Promise<number | null>;

  beforeAll(async () => {
    // The server's own schema and a few rows of its own, written through the ORM as the server writes them.
    const orm = await initOrm(database);
    const em = orm.em.fork();
    const project = em.create(Project, { userId: 1, name: 'resnet', localPath: '/home/me/resnet', originUrl: null, cloneUrl: null, branch: 'main', headSha: 'a'.repeat(40), headSubject: 'x', dirty: false, pushed: true, settings: {} as never, syncedAt: new Date(), createdAt: new Date(), deletedAt: null });
    await em.flush();
    for (const tag of ['alpha0000001', 'alpha0000002']) {
      em.create(Job, { tag, userId: 1, projectId: project.id, cluster: 'lab', name: 'resnet', description: '', commitSha: 'a'.repeat(40), input: {} as never, script: '#!/bin/sh', jobDir: `/w/${tag}`, state: 'COMPLETED', archived: false, createdAt: new Date(), updatedAt: new Date() });
    }
    await em.flush();
    await orm.close();
    writer = spawn(process.execPath, ['-e', WRITER, database], { stdio: ['ignore', 'ignore', 'inherit'] });
    writerDone = new Promise((resolve) => writer.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (Number((await query(database, "select count(*) as n from job where tag like 'w%'"))[0]!.n) < 20) {
      if (Date.now() > deadline) throw new Error('the writer process wrote nothing');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 30_000);

  afterAll(async () => {
    writer?.kill('SIGTERM');
    expect(await writerDone).toBe(0);
  });

  it('copies a consistent, checked database each time, with the rows written so far', async () => {
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const result = await backupDatabase(database, join(dataDir, `copy-${i}.sqlite`));
      expect(result.pages).toBeGreaterThan(0);
      // Read-write: FTS5 (the job search's index) checks itself by writing, and says it cannot on a read-only handle.
      expect(await query(result.path, 'pragma integrity_check', sqlite3.OPEN_READWRITE)).toEqual([{ integrity_check: 'ok' }]);
      // A file that stands alone: no WAL to carry along.
      expect(await query(result.path, 'pragma journal_mode')).toEqual([{ journal_mode: 'delete' }]);
      expect(await query(result.path, "select tag from job where tag like 'alpha%' order by tag")).toEqual([{ tag: 'alpha0000001' }, { tag: 'alpha0000002' }]);
      expect((await query(result.path, 'select name from mikro_orm_migrations')).length).toBeGreaterThanOrEqual(2);
      counts.push(await writerRows(result.path));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The writes really went on under the backups.
    expect(counts.at(-1)!).toBeGreaterThan(counts[0]!);
    expect(existsSync(join(dataDir, 'copy-0.sqlite-wal'))).toBe(false);
  });

  it('npm run backup takes the same copy from another process, into <data-dir>/backups by default', async () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/backup.ts', ...args], { encoding: 'utf8' });
    const out = join(dataDir, 'cli', 'copy.sqlite');
    const done = run('--data-dir', dataDir, '--out', out);
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`^backed up \\d+ pages \\(\\d+ kB\\) to ${out} in \\d+ ms; integrity check ok\\n$`));
    expect(await writerRows(out)).toBeGreaterThan(0);

    const byDefault = run('--data-dir', dataDir);
    expect(byDefault.status).toBe(0);
    expect(byDefault.stdout).toMatch(new RegExp(`to ${dataDir}/backups/mission-control-\\d{8}T\\d{6}Z\\.sqlite in`));

    const missing = run('--data-dir', join(dataDir, 'nope'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error: no database at .*nope\/mission-control\.sqlite \(is --data-dir the server's data directory\?\)\n$/);
    expect(existsSync(join(dataDir, 'nope'))).toBe(false);
  }, 60_000);

  it('refuses a source that does not exist, and leaves no partial file behind', async () => {
    await expect(backupDatabase(join(dataDir, 'none.sqlite'), join(dataDir, 'never.sqlite'))).rejects.toThrow(BackupError);
    expect(existsSync(join(dataDir, 'never.sqlite'))).toBe(false);
  });
});
