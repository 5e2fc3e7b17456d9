// Which engine a suite runs on, and on PostgreSQL which database stands for a test's SQLite target. vitest's
// *-postgresql projects set MC_TEST_ENGINE and MC_TEST_POSTGRES_URL (vitest.config.ts); test/postgres-setup.ts hands
// every initOrm target to testDatabase(). One database per file path, kept while the test file runs (a server
// restarted on its data directory finds its jobs, and a CLI started beside it opens the same one), and a new one for
// each ':memory:'; each a copy of one migrated template; all dropped when the test file ends.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const testEngine: 'sqlite' | 'postgresql' = process.env.MC_TEST_ENGINE === 'postgresql' ? 'postgresql' : 'sqlite';

type Migrate = (target: string) => Promise<{ close(): Promise<void> }>;

function admin(): string {
  const url = process.env.MC_TEST_POSTGRES_URL;
  if (!url) throw new Error('MC_TEST_POSTGRES_URL is not set: the PostgreSQL suites need a server (bash test/postgres.sh up prints its URL)');
  return url;
}

const urlOf = (database: string) => {
  const url = new URL(admin());
  url.pathname = `/${database}`;
  return url.toString();
};

async function withAdmin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: admin() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// Named by the migrations it holds, their text: a changed migration gets a new template, never an outdated one.
const MIGRATIONS = join(import.meta.dirname, '..', 'migrations', 'postgresql');
const TEMPLATE = `mc_template_${createHash('sha256')
  .update(readdirSync(MIGRATIONS).sort().map((file) => readFileSync(join(MIGRATIONS, file), 'utf8')).join('\0'))
  .digest('hex')
  .slice(0, 12)}`;
const created = new Set<string>();
let template: Promise<void> | null = null;
let counter = 0;

/** The migrated template, made once by whichever test file needs it first (an advisory lock makes the others wait). */
function ensureTemplate(migrate: Migrate): Promise<void> {
  template ??= withAdmin(async (client) => {
    await client.query('select pg_advisory_lock(2121)');
    try {
      if ((await client.query('select 1 from pg_database where datname = $1', [TEMPLATE])).rowCount) return;
      await client.query(`drop database if exists "${TEMPLATE}_new"`);
      await client.query(`create database "${TEMPLATE}_new" template template0 encoding 'UTF8' locale 'C.UTF-8'`);
      await (await migrate(urlOf(`${TEMPLATE}_new`))).close();
      await client.query(`alter database "${TEMPLATE}_new" rename to "${TEMPLATE}"`);
    } finally {
      await client.query('select pg_advisory_unlock(2121)');
    }
  });
  return template;
}

/** The PostgreSQL database that stands for `target` (':memory:' or a SQLite file path); a URL stays itself. */
export async function testDatabase(target: string, migrate: Migrate): Promise<string> {
  if (/^postgres(ql)?:\/\//.test(target)) return target;
  await ensureTemplate(migrate);
  const name = target === ':memory:' ? `mc_test_${process.pid}_${++counter}_${Date.now().toString(36)}` : `mc_file_${createHash('sha256').update(target).digest('hex').slice(0, 20)}`;
  if (!created.has(name)) {
    await withAdmin(async (client) => {
      if (!(await client.query('select 1 from pg_database where datname = $1', [name])).rowCount) await client.query(`create database "${name}" template "${TEMPLATE}"`);
    });
    created.add(name);
  }
  return urlOf(name);
}

/**
 * What a server or CLI process started by a test needs to open the data directory's database: nothing on SQLite;
 * on PostgreSQL the URL of the database that stands for its file (made now, so the process finds it migrated).
 */
export async function databaseArgs(dataDir: string): Promise<string[]> {
  if (testEngine === 'sqlite') return [];
  const { initOrm } = await import('../server/db/orm.js');
  return ['--database-url', await testDatabase(join(dataDir, 'mission-control.sqlite'), initOrm)];
}

/** Drops every database this test file made. */
export async function dropTestDatabases(): Promise<void> {
  if (created.size === 0) return;
  await withAdmin(async (client) => {
    for (const name of created) {
      // A drop can meet a session it may not end yet (autovacuum at work on the copy): tried again a moment later.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query(`drop database if exists "${name}" with (force)`);
          break;
        } catch (error) {
          if (attempt === 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        }
      }
    }
  });
  created.clear();
}

/**
 * Makes every `event` of a row of `table` fail with `message`, as a full disk or a read-only database fails a write, on
 * either engine (SQLite: raise(abort); PostgreSQL: an exception with SQLSTATE `code`); returns what lifts it.
 */
export async function refuseEveryWrite(
  connection: { execute(sql: string): Promise<unknown> },
  table: string,
  event: 'insert' | 'update',
  message: string,
  code = '53100',
): Promise<() => Promise<void>> {
  const name = `refuse_${event}_${table}`;
  if (testEngine === 'sqlite') {
    await connection.execute(`create trigger "${name}" before ${event} on "${table}" begin select raise(abort, '${message}'); end;`);
    return async () => void (await connection.execute(`drop trigger "${name}"`));
  }
  await connection.execute(`create function "${name}"() returns trigger language plpgsql as $$ begin raise exception '${message}' using errcode = '${code}'; end $$;`);
  await connection.execute(`create trigger "${name}" before ${event} on "${table}" for each row execute function "${name}"();`);
  return async () => {
    await connection.execute(`drop trigger "${name}" on "${table}"`);
    await connection.execute(`drop function "${name}"()`);
  };
}
