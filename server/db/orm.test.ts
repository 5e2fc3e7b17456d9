import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsList } from '../../migrations/sqlite/index.js';
import { makeUnwritable } from '../../test/unwritable.js';
import { DatabaseUnusableError } from '../errors.js';
import { Job } from './entities.js';
import { initOrm } from './orm.js';

const temporary: string[] = [];
const undo: Array<() => void> = [];
afterAll(() => {
  for (const restore of undo) restore();
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-db-'));
  temporary.push(dir);
  return join(dir, 'data');
};

it('opens a file database in WAL mode with a busy timeout, migrated, and the migrations match the entities', async () => {
  const orm = await initOrm(join(dataDir(), 'mission-control.sqlite'));
  try {
    const connection = orm.em.getConnection();
    expect(await connection.execute('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await connection.execute('pragma busy_timeout')).toEqual([{ timeout: 5000 }]);
    expect(await connection.execute('pragma foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    const migrator = orm.getMigrator();
    expect((await migrator.getExecutedMigrations()).map((migration) => migration.name)).toEqual(migrationsList.map((migration) => migration.name));
    expect(await migrator.getPendingMigrations()).toEqual([]);
    // A changed entity without a new migration fails here.
    expect(await migrator.checkMigrationNeeded()).toBe(false);
  } finally {
    await orm.close();
  }
});

const job = (tag: string, script: string) => ({
  tag,
  userId: 1,
  projectId: 1,
  cluster: 'alpha',
  name: 'run',
  description: '',
  commitSha: 'c'.repeat(40),
  branch: 'main',
  input: {} as Job['input'],
  script,
  jobDir: `/home/me/mission-control/jobs/${tag}`,
  state: 'PENDING' as const,
  archived: false,
  createdAt: new Date(),
  updatedAt: new Date(),
});

// Yoga logs every error it masks, and knex writes the whole statement, values inlined, into the message.
it('keeps a failed statement out of its error, beyond its start: a 50 kB value is not logged', async () => {
  const orm = await initOrm(':memory:');
  try {
    const script = `#!/bin/bash\n${'x'.repeat(50_000)}\n`;
    const em = orm.em.fork();
    em.create(Job, job('sametag12345', script));
    await em.flush();
    const again = orm.em.fork();
    again.create(Job, job('sametag12345', script));
    const error = (await again.flush().catch((caught: unknown) => caught)) as Error & { code: string };
    expect(error.name).toBe('UniqueConstraintViolationException');
    expect(error.code).toBe('SQLITE_CONSTRAINT');
    expect(error.message).toMatch(/^insert into `job` [^]* characters left out\) … SQLITE_CONSTRAINT: UNIQUE constraint failed: job\.tag$/);
    expect(error.message.length).toBeLessThan(600);
    expect(error.stack!.length).toBeLessThan(5_000);
    expect(error.stack).not.toContain('x'.repeat(400));
  } finally {
    await orm.close();
  }
});

describe('a database file that cannot be used is refused at start with one line naming it', () => {
  async function refusal(dbPath: string): Promise<DatabaseUnusableError> {
    const error = await initOrm(dbPath).then(
      async (orm) => {
        await orm.close();
        return null;
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DatabaseUnusableError);
    expect((error as DatabaseUnusableError).message).not.toContain('\n');
    return error as DatabaseUnusableError;
  }

  it('garbage bytes instead of a database', async () => {
    const dir = dataDir();
    mkdirSync(dir);
    const file = join(dir, 'mission-control.sqlite');
    writeFileSync(file, Buffer.from(Array.from({ length: 20_000 }, (_, index) => (index * 7919) % 251)));
    expect((await refusal(file)).message).toBe(
      `${file}: not a usable SQLite database (SQLITE_NOTADB: file is not a database); stop the server and copy your latest backup over it (\`npm run backup\` keeps them in ${dir}/backups/), or move the file away to start with an empty database`,
    );
  });

  // The header and the migrations' table still read well: the server started, and each request on the jobs failed.
  it('garbage bytes over the pages of its rows', async () => {
    const dir = dataDir();
    const file = join(dir, 'mission-control.sqlite');
    const orm = await initOrm(file);
    const em = orm.em.fork();
    for (let index = 0; index < 200; index++) em.create(Job, job(`job${String(index).padStart(9, '0')}`, `#!/bin/bash\n${'echo step\n'.repeat(100)}`));
    await em.flush();
    await orm.em.getConnection().execute('pragma wal_checkpoint(truncate)');
    await orm.close();
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    // The last quarter of the file: rows written last, far from the schema on page 1.
    writeSync(fd, Buffer.alloc(Math.floor(size / 4), 0x5a), 0, Math.floor(size / 4), size - Math.floor(size / 4));
    closeSync(fd);
    const error = await refusal(file);
    expect(error.message).toMatch(new RegExp(`^${file}: not a usable SQLite database \\(SQLITE_CORRUPT: .+\\); stop the server and copy your latest backup over it`));
  });

  it('a database file it cannot write', async (context) => {
    const dir = dataDir();
    const file = join(dir, 'mission-control.sqlite');
    await (await initOrm(file)).close();
    const restore = makeUnwritable(file);
    if (!restore) return context.skip('neither permissions nor chattr +i can make a file unwritable here');
    undo.push(restore);
    expect((await refusal(file)).message).toBe(
      `${file}: cannot be written (SQLITE_READONLY: attempt to write a readonly database): the server writes the database and its -wal and -shm files in the directory ${dir}; give its user write access there, or choose another directory with --data-dir (MC_DATA_DIR)`,
    );
  });

  it('a data directory it cannot write', async (context) => {
    const dir = dataDir();
    mkdirSync(dir);
    const restore = makeUnwritable(dir);
    if (!restore) return context.skip('neither permissions nor chattr +i can make a directory unwritable here');
    undo.push(restore);
    const file = join(dir, 'mission-control.sqlite');
    expect((await refusal(file)).message).toBe(
      `${file}: cannot be written (SQLITE_CANTOPEN: unable to open database file): the server writes the database and its -wal and -shm files in the directory ${dir}; give its user write access there, or choose another directory with --data-dir (MC_DATA_DIR)`,
    );
  });

  it('a file where the data directory should be', async () => {
    const dir = dataDir();
    writeFileSync(dir, '');
    const file = join(dir, 'mission-control.sqlite');
    expect((await refusal(file)).message).toBe(`${file}: cannot be created (EEXIST: file already exists, mkdir '${dir}'): ${dir} must be a directory; choose another one with --data-dir (MC_DATA_DIR)`);
  });
});
