// The house rules of /work/shared/ARCHITECTURE.md (copied in spirit to the README's layout paragraph), checked on the
// import lines of every source file: which room may import which. Tests beside the code are not checked (a test may
// reach anything to set up what it checks); everything else is.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** The rooms of server/ whose code is a domain: services with their state, never the transport of the API. */
const DOMAINS = ['access', 'jobs', 'projects', 'clusters', 'push', 'sweeps', 'metrics', 'usage'];

/** What server/mcp/ may import besides itself and lib/. */
const MCP_MAY_READ = ['server/access/session.ts', 'server/slurm/state.ts'];

export interface Import {
  /** Repository-relative path of the importing file. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** Repository-relative path it names (relative specifiers), or null for a package. */
  target: string | null;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"`]([^'"`$]+)['"`]|^\s*import\s+['"]([^'"]+)['"]/gm;

export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    const target = specifier.startsWith('.') ? normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts') : null;
    found.push({ from: file, specifier, target });
  }
  return found;
}

const under = (path: string | null, folder: string) => path !== null && (path === folder || path.startsWith(`${folder}/`));
const serverRoom = (path: string) => (under(path, 'server') ? path.split('/')[1]!.replace(/\.tsx?$/, '') : null);
const isPackage = (entry: Import, name: string) => entry.target === null && (entry.specifier === name || entry.specifier.startsWith(`${name}/`));

/** Every refused import, as "file imports specifier: rule". */
export function violations(imports: Import[]): string[] {
  const refused: string[] = [];
  const refuse = (entry: Import, rule: string) => refused.push(`${entry.from} imports ${entry.specifier}: ${rule}`);
  for (const entry of imports) {
    const room = serverRoom(entry.from);
    const targetRoom = entry.target ? serverRoom(entry.target) : null;
    if (room === 'ssh' && entry.target && !under(entry.target, 'server/ssh') && !under(entry.target, 'server/lib') && entry.target !== 'server/errors.ts') {
      refuse(entry, 'ssh/ may import only lib/ and errors');
    }
    if (room === 'slurm' && (targetRoom === 'db' || DOMAINS.includes(targetRoom ?? '') || ['http', 'services', 'events'].includes(targetRoom ?? ''))) {
      refuse(entry, 'slurm/ never imports db/ or a domain');
    }
    if (room && DOMAINS.includes(room) && (isPackage(entry, 'graphql') || targetRoom === 'http' || under(entry.target, 'schema'))) {
      refuse(entry, 'a domain never imports graphql, http/ or schema/');
    }
    // The agents' door reaches the services only through GraphQL, as the session's token (server/mcp/graphql.ts): the
    // same rules and limits. It may read who is asking and the one list of final job states.
    if (room === 'mcp' && entry.target && !under(entry.target, 'server/mcp') && !under(entry.target, 'server/lib') && !MCP_MAY_READ.includes(entry.target)) {
      refuse(entry, 'mcp/ reaches the services only through GraphQL: it imports mcp/, lib/, the session type and the final job states');
    }
    // Either engine, one code: an engine's driver is named only in server/db/, where its module is chosen.
    if (!under(entry.from, 'server/db') && (isPackage(entry, '@mikro-orm/sqlite') || isPackage(entry, '@mikro-orm/postgresql') || isPackage(entry, 'sqlite3') || isPackage(entry, 'pg'))) {
      refuse(entry, 'only server/db/ names a database engine (elsewhere: @mikro-orm/knex, and server/db/sql-dialect.ts where SQL differs)');
    }
    if (under(entry.from, 'schema') && (targetRoom === 'slurm' || targetRoom === 'ssh')) refuse(entry, 'schema/ never imports slurm/ or ssh/');
    if (under(entry.target, 'schema') && !under(entry.from, 'schema') && entry.from !== 'server/http/app.ts') refuse(entry, 'only server/http/app.ts imports schema/');
    if (under(entry.from, 'client') && entry.target && !under(entry.target, 'client')) refuse(entry, 'client/ imports nothing outside client/ (its documents come from schema/schema.graphql)');
  }
  return refused;
}

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|tsx|mjs)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && !entry.parentPath.includes('node_modules') && !entry.parentPath.includes('/dist'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every test file: suites beside the code, and test/ itself. */
function testFiles(): string[] {
  return ['server', 'schema', 'client/src', 'test'].flatMap((folder) =>
    readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && /\.test\.tsx?$/.test(entry.name) && !entry.parentPath.includes('node_modules'))
      .map((entry) => relative(ROOT, join(entry.parentPath, entry.name))),
  );
}

describe('the house rules', () => {
  it('keep tests off bench/: what a test needs lives in test/ (factories, helpers)', () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(70);
    const imports = files.flatMap((file) => importsOf(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(imports.filter((entry) => under(entry.target, 'bench')).map((entry) => `${entry.from} imports ${entry.specifier}`)).toEqual([]);
  });

  it('hold for every import of server/, schema/ and client/', () => {
    const files = [...sources('server'), ...sources('schema'), ...sources('client/src')];
    expect(files.length).toBeGreaterThan(80);
    const imports = files.flatMap((file) => importsOf(file, readFileSync(join(ROOT, file), 'utf8')));
    // Enough imports were read for the rules to mean something (a broken pattern would find none).
    expect(imports.filter((entry) => entry.target !== null).length).toBeGreaterThan(300);
    expect(violations(imports)).toEqual([]);
  });

  it('refuse each forbidden kind of import', () => {
    const check = (from: string, line: string) => violations(importsOf(from, line));
    expect(check('server/ssh/ssh2-transport.ts', "import { Job } from '../db/entities.js';")).toEqual([expect.stringMatching(/ssh\/ may import only lib\/ and errors/)]);
    expect(check('server/ssh/quote.ts', "import { backoff } from '../lib/backoff.js';\nimport { AppError } from '../errors.js';")).toEqual([]);
    expect(check('server/slurm/poll.ts', "import type { Job } from '../db/entities.js';")).toEqual([expect.stringMatching(/slurm\/ never imports db\//)]);
    expect(check('server/slurm/poll.ts', "import { createJobService } from '../jobs/service.js';")).toEqual([expect.stringMatching(/slurm\/ never imports db\/ or a domain/)]);
    expect(check('server/jobs/live-log.ts', "import { GraphQLError } from 'graphql';")).toEqual([expect.stringMatching(/a domain never imports graphql/)]);
    expect(check('server/push/notifier.ts', "import { createApp } from '../http/app.js';")).toEqual([expect.stringMatching(/a domain never imports graphql, http\//)]);
    expect(check('server/projects/service.ts', "const schema = await import('../../schema/index.js');")).toHaveLength(2);
    expect(check('schema/job.ts', "export { quoteArgv } from '../server/ssh/quote.js';")).toEqual([expect.stringMatching(/schema\/ never imports slurm\/ or ssh\//)]);
    expect(check('server/main.ts', "import { schema } from '../schema/index.js';")).toEqual([expect.stringMatching(/only server\/http\/app.ts imports schema\//)]);
    expect(check('server/http/app.ts', "import { schema } from '../../schema/index.js';")).toEqual([]);
    expect(check('client/src/api/jobs.ts', "import type { Job } from '../../../server/db/entities.js';")).toEqual([expect.stringMatching(/client\/ imports nothing outside client\//)]);
    expect(check('client/src/api/jobs.ts', "import { graphql } from './client';")).toEqual([]);
    expect(check('server/mcp/tools.ts', "import { createJobService } from '../jobs/service.js';")).toEqual([expect.stringMatching(/mcp\/ reaches the services only through GraphQL/)]);
    expect(check('server/mcp/tools.ts', "import type { EntityManager } from '../db/orm.js';")).toEqual([expect.stringMatching(/mcp\/ reaches the services only through GraphQL/)]);
    expect(check('server/mcp/tools.ts', "import { TERMINAL_STATES } from '../slurm/state.js';\nimport { query } from './graphql.js';")).toEqual([]);
    expect(check('server/jobs/queries.ts', "import { raw } from '@mikro-orm/sqlite';")).toEqual([expect.stringMatching(/only server\/db\/ names a database engine/)]);
    expect(check('server/usage/service.ts', "import pg from 'pg';")).toEqual([expect.stringMatching(/only server\/db\/ names a database engine/)]);
    expect(check('server/db/postgresql.ts', "import { PostgreSqlDriver } from '@mikro-orm/postgresql';")).toEqual([]);
  });
});
