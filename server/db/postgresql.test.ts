// The PostgreSQL engine's own answers (the behaviour suites run on it too): a database it cannot use is refused at
// start in words that say what to do, with the password left out; words split and fold as SQLite's search does.
import { describe, expect, it, vi } from 'vitest';
import { insertProject, createJobRow } from '../../test/factories.js';
import { testEngine } from '../../test/database-engine.js';
import { DatabaseUnusableError } from '../errors.js';
import { listJobs } from '../jobs/queries.js';
import { databaseTarget } from './orm-config.js';

const admin = () => new URL(process.env.MC_TEST_POSTGRES_URL!);

describe.skipIf(testEngine !== 'postgresql')('the PostgreSQL engine', () => {
  const real = () => vi.importActual<typeof import('./orm.js')>('./orm.js');

  it('refuses a server it cannot reach, a wrong password and a missing database, naming the URL without its password', async () => {
    const { initOrm } = await real();
    const url = (change: (url: URL) => void) => {
      const target = admin();
      change(target);
      return target.toString();
    };
    const cases: Array<[string, RegExp]> = [
      [url((u) => (u.port = '1')), /^postgresql:\/\/mc:\*\*\*@127\.0\.0\.1:1\/postgres: cannot be reached \(.*ECONNREFUSED.*\): is PostgreSQL running there/],
      [url((u) => (u.password = 'wrong-secret')), /^postgresql:\/\/mc:\*\*\*@127\.0\.0\.1:5432\/postgres: refused the login \(.*password authentication failed.*\)/],
      [url((u) => (u.pathname = '/no_such_database')), /^postgresql:\/\/mc:\*\*\*@127\.0\.0\.1:5432\/no_such_database: has no such database \(.*\): create it first/],
    ];
    for (const [target, message] of cases) {
      const error = await initOrm(target).catch((caught: unknown) => caught);
      expect(error, target).toBeInstanceOf(DatabaseUnusableError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('wrong-secret');
    }
  });

  it('refuses a database that takes no writes', async () => {
    const { initOrm } = await import('./orm.js');
    const orm = await initOrm(':memory:');
    const url = orm.config.get('clientUrl')!;
    const name = new URL(url).pathname.slice(1);
    await orm.em.getConnection().execute(`alter database "${name}" set default_transaction_read_only = on`);
    await orm.close();
    const { initOrm: open } = await real();
    await expect(open(url)).rejects.toThrow(/: cannot be written \(.*takes no writes.*\)$/);
  });

  it('takes a postgresql:// URL and nothing else as --database-url', () => {
    expect(databaseTarget({ dataDir: '/d', databaseUrl: 'postgresql://a:b@h/db' })).toBe('postgresql://a:b@h/db');
    expect(databaseTarget({ dataDir: '/d' })).toBe('/d/mission-control.sqlite');
    expect(() => databaseTarget({ dataDir: '/d', databaseUrl: 'mysql://a:secret@h/db' })).toThrow(/must be a postgresql:\/\/ URL .*"mysql:\/\/a:\*\*\*@h\/db"/);
  });

  it('splits and folds words as SQLite does: diacritics kept, letters of any script, no match inside a word', async () => {
    const { initOrm } = await import('./orm.js');
    const orm = await initOrm(':memory:');
    try {
      const em = orm.em.fork();
      const project = await insertProject(em, 'p');
      for (const [name, description] of [['Café-Über_v1.2', 'größe 日本語 run'], ['cafe', 'plain'], ['vitlarge', 'x']]) createJobRow(em, { cluster: 'alpha', state: 'COMPLETED', projectId: project.id, name, description });
      await em.flush();
      const found = async (search: string) => (await listJobs(orm.em.fork(), { search }, 50, null)).jobs.map((job) => job.name);
      expect(await found('café')).toEqual(['Café-Über_v1.2']);
      expect(await found('cafe')).toEqual(['cafe']);
      expect(await found('über v1')).toEqual(['Café-Über_v1.2']);
      expect(await found('v1 2')).toEqual(['Café-Über_v1.2']);
      expect(await found('GRÖSSE')).toEqual([]);
      expect(await found('größe 日本')).toEqual(['Café-Über_v1.2']);
      expect(await found('large')).toEqual([]);
      // A phrase never runs from the end of the name into the description.
      expect(await found('v1 2 größe')).toEqual([]);
    } finally {
      await orm.close();
    }
  });
});
