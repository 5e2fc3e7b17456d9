// The API at scale: 100,000 jobs in SQLite (api) or PostgreSQL (api-postgresql), the queries the phone app sends (a
// project's jobs in one state, the home screen, text searches, usage), timed over HTTP against the real app, with the
// database's plan of every statement they cost.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, Figure } from './bench.js';
import { percentile } from './bench.js';
import { benchPostgresDatabase, ms, timed } from './support.js';
import { createApp } from '../server/http/app.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import type { JobFilter } from '../server/jobs/service.js';
import { createServices } from '../server/services.js';

const JOBS = 100_000;
const PROJECTS = 20;
const REQUESTS = 300;
const WARMUP = 30;
const P99_GOAL_MS = 10;

const HOME_GOAL_MS = 15;
const USAGE_GOAL_MS = 50;

// The app's documents as it sends them (client/src/api/jobs.ts with components/job-row.fragment.ts; gql.tada adds the
// fragments' definitions and drops its own @_unmask).
const JOB_ROW = `fragment JobRow on Job {
  id name description cluster state reason nodeList exitCode archived createdAt submittedAt startedAt endedAt
  estimatedStartAt waitingFor
}`;
const JOB_SUMMARY = `fragment JobSummary on Job {
  ...JobRow
  projectId tag slurmState slurmJobId signal parentId wandbUrl elapsedSeconds submitError sweepId arrayIndex restarts
  reasonExplained { action blocked }
}`;
const LIST = `query Jobs($filter: JobFilter, $first: Int, $after: String) {
  jobs(filter: $filter, first: $first, after: $after) { nodes { ...JobSummary } pageInfo { endCursor hasNextPage } }
}
${JOB_SUMMARY}
${JOB_ROW}`;
const HOME = `query HomeJobs($active: [JobState!]) {
  recent: jobs(first: 60, filter: { archived: false }) { nodes { projectId ...JobRow } }
  active: jobs(first: 200, filter: { states: $active }) { nodes { projectId ...JobRow } }
}
${JOB_ROW}`;

// A script of the size the default template renders, stored with every job.
export const SCRIPT = `#!/bin/bash\n#SBATCH --job-name=resnet-@\n#SBATCH --partition=gpu\n#SBATCH --gres=gpu:a100:2\n#SBATCH --cpus-per-task=8\n#SBATCH --mem=64G\n#SBATCH --time=24:00:00\n${'# lifecycle, environment and checkout lines of the default template\n'.repeat(20)}python train.py model=resnet optimizer.lr=0.00@ trainer.max_epochs=90\n`;

/** What the seeding statements say differently on each engine (SQLite keeps times as epoch ms, booleans as 0/1). */
interface Seed {
  /** The rows 1..count as a table `n(i)`. */
  numbers(count: number): string;
  /** `printf('%0Nd', i)`. */
  padded(expression: string, width: number): string;
  hex40(expression: string): string;
  /** An epoch-ms expression as the engine stores a datetime. */
  time(expression: string): string;
  bool(condition: string): string;
  json(expression: string): string;
}

const SQLITE_SEED: Seed = {
  numbers: (count) => `with recursive n(i) as (select 1 union all select i + 1 from n where i < ${count})`,
  padded: (expression, width) => `printf('%0${width}d', ${expression})`,
  hex40: (expression) => `printf('%040x', ${expression})`,
  time: (expression) => `(${expression})`,
  bool: (condition) => `case when ${condition} then 1 else 0 end`,
  json: (expression) => expression,
};

const POSTGRESQL_SEED: Seed = {
  // bigint: i * 60,000 passes 2^31.
  numbers: (count) => `with n(i) as (select generate_series(1, ${count})::bigint)`,
  padded: (expression, width) => `lpad((${expression})::text, ${width}, '0')`,
  hex40: (expression) => `lpad(to_hex(${expression}), 40, '0')`,
  time: (expression) => `to_timestamp((${expression})::float8 / 1000)`,
  bool: (condition) => `(${condition})`,
  json: (expression) => `(${expression})::jsonb`,
};

// 100,000 jobs in one statement: 20 projects, mostly finished (completed, failed, cancelled, timeout), 3 % running,
// 2 % pending (waiting for Resources or Priority, so their rows say what for), older ones archived; descriptions from a
// few words, "vit-large" in about 1 in 60. One a minute over 69 days, each waiting 0 to 50 min in the queue and
// running until an hour after its submission; 0 to 4 GPUs (A100, H100 or of no type), a quarter in a partition "big".
// All the owner's (user 1), as on a single-user server.
const insertJobs = (seed: Seed) => `
${seed.numbers(JOBS)},
s(i, state) as (select i, case when (i * 7919) % 100 < 70 then 'COMPLETED' when (i * 7919) % 100 < 85 then 'FAILED' when (i * 7919) % 100 < 93 then 'CANCELLED'
  when (i * 7919) % 100 < 95 then 'TIMEOUT' when (i * 7919) % 100 < 98 then 'RUNNING' else 'PENDING' end from n)
insert into job (tag, user_id, project_id, parent_id, cluster, name, description, commit_sha, branch, input, script, job_dir, slurm_job_id,
  state, slurm_state, reason, exit_code, signal, node_list, submit_error, wandb_url, archived, created_at, updated_at,
  submitted_at, started_at, ended_at, elapsed_seconds, last_seen_at)
select 't' || ${seed.padded('i', 11)}, 1, 1 + i % ${PROJECTS}, case when i % 5 = 0 then i - 1 else null end, case i % 3 when 0 then 'lab' when 1 then 'hpc' else 'cloud' end,
  'project-' || (1 + i % ${PROJECTS}) || '-run-' || i,
  case i % 4 when 0 then 'baseline sweep lr ' || (i % 97) when 1 then 'resnet50 cifar10 augment ' || (i % 13) when 2 then 'ablation dropout ' || (i % 7) else 'long run seed ' || (i % 1000) end
    || case when i % 61 = 0 then ' vit-large' else '' end,
  ${seed.hex40('i')}, 'main', ${seed.json(`'{"projectId":1,"cluster":"lab","primary":"train","groups":[],"parameters":[{"path":"optimizer.lr","value":0.001}],"rawOverrides":[],"nodes":1,"gpusPerNode":'
    || (i % 5) || ',"gpuType":' || case i % 3 when 0 then '"a100"' when 1 then '"h100"' else 'null' end || ',"partition":' || case i % 4 when 0 then '"big"' else 'null' end || '}'`)},
  replace(?, '@', cast(i as text)), '/home/user/mission-control/jobs/t' || ${seed.padded('i', 11)}, cast(100000 + i as text),
  s.state, s.state, case when s.state = 'PENDING' then case i % 2 when 0 then 'Resources' else 'Priority' end end, case s.state when 'COMPLETED' then 0 when 'FAILED' then 1 else null end, null, 'gpu-a100', null, null,
  ${seed.bool(`i < ${JOBS * 0.3} and s.state not in ('RUNNING', 'PENDING')`)},
  ${seed.time('1700000000000 + i * 60000')}, ${seed.time('1700000000000 + i * 60000')}, ${seed.time('1700000000000 + i * 60000')}, ${seed.time('1700000000000 + i * 60000 + ((i * 7919) % 3000) * 1000')},
  case when s.state in ('RUNNING', 'PENDING') then null else ${seed.time('1700003600000 + i * 60000')} end, 3600, ${seed.time('1700003600000 + i * 60000')}
from s`;

// 10,000 jobs launched elsewhere as the daily sacct read stores them, one in five of them also ours (same SLURM id and
// cluster: counted once, as ours).
const insertSacct = (seed: Seed) => `
${seed.numbers(10000)}
insert into sacct_job (cluster, slurm_job_id, user_id, state, slurm_state, slurm_partition, gpu_count, gpu_type, exit_code, submitted_at, started_at, ended_at, read_at)
select case i % 3 when 0 then 'lab' when 1 then 'hpc' else 'cloud' end, cast(case when i % 5 = 0 then 100000 + i * 7 else 900000 + i end as text), 1,
  case when i % 10 < 8 then 'COMPLETED' else 'FAILED' end, 'COMPLETED', 'gpu', 1 + i % 8, case i % 2 when 0 then 'a100' else 'h100' end, 0,
  ${seed.time('1700000000000 + i * 600000')}, ${seed.time('1700000000000 + i * 600000 + (i % 97) * 60000')}, ${seed.time('1700000000000 + i * 600000 + 7200000')}, ${seed.time('1706000000000')}
from n`;

/** SQLite's seeding statements (bench/startup.ts restarts a server on the same rows). */
export const INSERT = insertJobs(SQLITE_SEED);
export const SACCT_INSERT = insertSacct(SQLITE_SEED);

// The app's Usage screen (client/src/api/usage.ts) over the whole 100,000 jobs: 11 weeks from the Monday before the
// first, ending the day after the last, so its 30-day wait table covers the last 43,000 jobs.
const USAGE = `query Usage($from: DateTime!, $to: DateTime!, $groupBy: UsageGroupBy) {
  usage(from: $from, to: $to, groupBy: $groupBy) {
    __typename
    ... on QueryUsageSuccess {
      data {
        from to groupBy weeks
        gpuHours { week key gpuHours }
        outcomes { week key state jobs }
        groups { key label gpuHours ended completed successRate }
        waits { ...QueueWait }
        sacctReads { cluster readAt attemptedAt jobs error }
      }
    }
    ... on Error { message ... on ValidationError { field } }
  }
}
fragment QueueWait on QueueWait {
  cluster partition gpuType
  last7Days { jobs medianSeconds p90Seconds }
  last30Days { jobs medianSeconds p90Seconds }
}`;
const usage = (groupBy: string) => ({ from: '2023-11-13T00:00:00.000Z', to: '2024-01-24T00:00:00.000Z', groupBy });
/** What a usage answer holds, for the table: its weekly points, outcomes and wait rows. */
const usageFound = (data: Record<string, unknown>) => {
  const result = data.usage as { data?: { gpuHours: unknown[]; outcomes: unknown[]; waits: unknown[] }; message?: string };
  if (!result.data) throw new Error(`usage: ${result.message}`);
  return `${result.data.gpuHours.length} weekly points, ${result.data.outcomes.length} outcome counts, ${result.data.waits.length} wait rows`;
};

// What the app's home screen asks for (client/src/lib/job-list.ts, ACTIVE_STATES).
const ACTIVE = ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'];


interface Case {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The p99 goal over HTTP, in ms. */
  goal?: number;
  /** What the answer holds, for the table (default: each list's nodes). */
  found?: (data: Record<string, unknown>) => string;
}

const search = (search: string, projectId?: number) => ({ filter: { ...(projectId ? { projectId } : {}), search }, first: 50 });

const CASES: Case[] = [
  { name: 'filtered page: jobs(filter: {projectId: 7, states: [FAILED]}, first: 50)', query: LIST, variables: { filter: { projectId: 7, states: ['FAILED'] }, first: 50 }, goal: P99_GOAL_MS },
  { name: 'filtered page, a rare state: {projectId: 7, states: [RUNNING]}', query: LIST, variables: { filter: { projectId: 7, states: ['RUNNING'] }, first: 50 }, goal: P99_GOAL_MS },
  { name: 'filtered page, the app\'s "not archived": {projectId: 7, archived: false}', query: LIST, variables: { filter: { projectId: 7, archived: false }, first: 50 } },
  { name: 'home screen (60 recent + up to 200 active)', query: HOME, variables: { active: ACTIVE }, goal: HOME_GOAL_MS },
  { name: 'text search, a word, all jobs: {search: "large"}', query: LIST, variables: search('large'), goal: P99_GOAL_MS },
  { name: 'text search, a word, in a project: {projectId: 7, search: "large"}', query: LIST, variables: search('large', 7), goal: P99_GOAL_MS },
  { name: 'text search, a prefix, all jobs: {search: "abla"}', query: LIST, variables: search('abla'), goal: P99_GOAL_MS },
  { name: 'text search, a prefix, in a project: {projectId: 7, search: "abla"}', query: LIST, variables: search('abla', 7), goal: P99_GOAL_MS },
  { name: 'text search, all jobs: {search: "vit-large"}', query: LIST, variables: search('vit-large') },
  { name: 'text search in a project: {projectId: 7, search: "vit-large"}', query: LIST, variables: search('vit-large', 7) },
  { name: 'text search in a project, a word none of its jobs has: {projectId: 7, search: "resnet50"}', query: LIST, variables: search('resnet50', 7) },
  { name: 'usage, 11 weeks of all 100,000 jobs and 10,000 launched elsewhere, by cluster', query: USAGE, variables: usage('CLUSTER'), goal: USAGE_GOAL_MS, found: usageFound },
  { name: 'usage, the same by project', query: USAGE, variables: usage('PROJECT'), goal: USAGE_GOAL_MS, found: usageFound },
];

/** What SQLite's plan of a statement says about how it finds its rows. */
function sqliteVerdictOf(detail: string, sql: string): { verdict: string; indexed: boolean } {
  const sort = /TEMP B-TREE/.test(detail) ? ', plus a sort' : ', no sort';
  const fullText = /SCAN (\S+) VIRTUAL TABLE INDEX \d+:M/.exec(detail);
  if (fullText) return { verdict: `full-text index ${fullText[1]} (FTS5 MATCH)${/INTEGER PRIMARY KEY/.test(detail) ? ', rows by primary key' : ''}${sort}`, indexed: true };
  const index = /USING (?:COVERING )?INDEX (\S+)/.exec(detail)?.[1];
  if (index) return { verdict: `index ${index}${sort}`, indexed: true };
  // INTEGER PRIMARY KEY: a rowid table's key; PRIMARY KEY alone: a WITHOUT ROWID table's (the usage rollups').
  if (/USING (?:INTEGER )?PRIMARY KEY/.test(detail)) return { verdict: `primary key${sort}`, indexed: true };
  // The usage query's per-cluster tables (the last connection check, the last sacct read): a row per configured cluster.
  if (/^SCAN \w+$/.test(detail) && /\bfrom [`"](cluster_check|sacct_read)[`"]/i.test(sql)) return { verdict: 'a row per configured cluster, read whole', indexed: true };
  // A scan that needs no sort for `order by id desc limit n` walks the table's own B-tree (its primary key) from the
  // newest row and stops when the page is full: its cost grows as matching rows get rarer.
  if (/^SCAN \w+$/.test(detail) && /order by [`"]?\w+[`"]?\.[`"]?id[`"]? desc limit/i.test(sql)) return { verdict: 'primary key order, newest first, until the page is full (no sort)', indexed: true };
  return { verdict: 'no index: scans the table', indexed: false };
}

/**
 * What PostgreSQL's plan of a statement says (EXPLAIN, text): the indexes it reads, or the tables it scans whole (a
 * table of a row per configured cluster excepted).
 */
function postgresqlVerdictOf(plan: string): { verdict: string; indexed: boolean } {
  const sort = /\bSort\b/.test(plan) ? ', plus a sort' : ', no sort';
  const scanned = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((match) => match[1]!).filter((table) => !['cluster_check', 'sacct_read'].includes(table));
  if (scanned.length) return { verdict: `scans ${[...new Set(scanned)].join(', ')}${sort}`, indexed: false };
  const indexes = [...plan.matchAll(/(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)/g)].map((match) => match[1]!);
  if (indexes.length) return { verdict: `index ${[...new Set(indexes)].join(', ')}${sort}`, indexed: true };
  return { verdict: 'a row per configured cluster, read whole', indexed: true };
}

/** Each engine's database for the bench: made, seeded, sized, explained and removed. */
interface Engine {
  name: string;
  /** The database target (a file or a URL) and what removes it. */
  create(): Promise<{ target: string; remove(): Promise<void> }>;
  seed: Seed;
  /** After the rows are in: SQLite runs no ANALYZE (the server never does); PostgreSQL's autovacuum would soon. */
  settle(orm: Orm): Promise<void>;
  sizeMiB(orm: Orm, target: string): Promise<number>;
  plan(orm: Orm, sql: string, bindings: unknown[]): Promise<{ detail: string; verdict: string; indexed: boolean }>;
}

const SQLITE: Engine = {
  name: 'SQLite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-api-'));
    return { target: join(dir, 'mission-control.sqlite'), remove: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  seed: SQLITE_SEED,
  settle: async () => undefined,
  sizeMiB: async (_orm, target) => statSync(target).size / 2 ** 20,
  async plan(orm, sql, bindings) {
    const plan = (await orm.em.getConnection().execute(`explain query plan ${sql}`, bindings as never[])) as Array<{ detail: string }>;
    const detail = plan.map((step) => step.detail).join('; ');
    return { detail, ...sqliteVerdictOf(detail, sql) };
  },
};

/** PostgreSQL: a database made for the run on the server MC_BENCH_POSTGRES_URL names (default: test/postgres.sh's). */
const POSTGRESQL: Engine = {
  name: 'PostgreSQL',
  async create() {
    const database = await benchPostgresDatabase('mc_bench_api');
    return { target: database.url, remove: database.remove };
  },
  seed: POSTGRESQL_SEED,
  settle: async (orm) => void (await orm.em.getConnection().execute('vacuum analyze')),
  async sizeMiB(orm) {
    const [row] = (await orm.em.getConnection().execute('select pg_database_size(current_database()) as bytes')) as Array<{ bytes: number }>;
    return Number(row!.bytes) / 2 ** 20;
  },
  async plan(orm, sql, bindings) {
    const plan = (await orm.em.getConnection().execute(`explain ${sql}`, bindings as never[])) as Array<{ 'QUERY PLAN': string }>;
    const detail = plan.map((step) => step['QUERY PLAN'].trim()).join('; ');
    return { detail, ...postgresqlVerdictOf(detail) };
  },
};

const apiBench = (engine: Engine): Bench => ({
  title: `API at scale: 100,000 jobs in ${engine.name}, over HTTP`,
  async run() {
    const database = await engine.create();
    const file = database.target;
    const cleanups: Array<() => Promise<void> | void> = [() => database.remove()];
    const rows: Array<Array<string | number>> = [];
    const plans: Array<Array<string | number>> = [];
    const breakdown: Array<Array<string | number>> = [];
    const figures: Figure[] = [];
    let insertMs = 0;
    let sizeMiB = 0;
    try {
      const seeding = await initOrm(file);
      const insertStarted = performance.now();
      try {
        await seeding.em.getConnection().execute(insertJobs(engine.seed), [SCRIPT]);
        await seeding.em.getConnection().execute(insertSacct(engine.seed));
        await engine.settle(seeding);
        insertMs = performance.now() - insertStarted;
      } finally {
        await seeding.close();
      }
      // Reopened, as a server starting on an existing database.
      const orm = await initOrm(file);
      cleanups.unshift(() => orm.close());
      sizeMiB = await engine.sizeMiB(orm, file);
      const services = createServices({ orm, config: { file: 'bench', clusters: [] } });
      cleanups.unshift(() => services.close());
      const app = createApp({ services, access: { allowWithoutToken: true } });
      const url = `${await app.start(0, '127.0.0.1')}/graphql`;
      cleanups.unshift(() => app.stop());
      const knex = orm.em.getConnection().getKnex();
      for (const testCase of CASES) {
        const request = async () => {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: testCase.query, variables: testCase.variables }) });
          const body = (await response.json()) as { data?: Record<string, { nodes?: unknown[] }>; errors?: unknown };
          if (!body.data) throw new Error(`${testCase.name}: ${JSON.stringify(body.errors).slice(0, 300)}`);
          return body.data;
        };
        // The SQL the job service runs for this case, caught on its way to the database.
        const statements: Array<{ sql: string; bindings: unknown[] }> = [];
        const listen = (query: { sql: string; bindings?: unknown[] }) => statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
        knex.on('query', listen);
        const first = await request();
        knex.off('query', listen);
        const times = await timed(request, REQUESTS, WARMUP);
        const found = testCase.found?.(first) ?? Object.values(first).map((connection) => connection.nodes?.length ?? 0).join(' + ');
        const p50 = percentile(times, 50);
        const p99 = percentile(times, 99);
        rows.push([testCase.name, found, ms(p50), ms(p99), ms(Math.max(...times))]);
        if (testCase.goal) figures.push({ label: `p99 over HTTP, ${testCase.name}`, value: `${ms(p99)} (p50 ${ms(p50)})`, goal: `< ${testCase.goal} ms`, met: p99 < testCase.goal });
        // Every statement the request cost, explained as the database runs it.
        const selects = statements.filter((statement) => /^select /i.test(statement.sql));
        if (!selects.some((statement) => /\bfrom [`"]?job[`"]? /i.test(statement.sql))) throw new Error(`${testCase.name}: no select from job was seen (${statements.map((statement) => statement.sql).join('; ')})`);
        let allIndexed = true;
        for (const [index, statement] of selects.entries()) {
          const { detail, verdict, indexed } = await engine.plan(orm, statement.sql, statement.bindings);
          allIndexed &&= indexed;
          const columns = /^select (.*?) from /is.exec(statement.sql)?.[1] ?? '';
          // A job row read whole (`*`, `j0`.*) reads them too; count(*) reads no column.
          const reads = /[`"](script|input)[`"]/.test(columns) || (/\bfrom [`"]?job[`"]? /i.test(statement.sql) && /(^|[\s,.])\*(\s|,|$)/.test(columns)) ? 'yes' : 'no';
          plans.push([index === 0 ? testCase.name : '〃', `${index + 1} of ${selects.length}: \`${statement.sql.replace(/^select .*? from /is, 'select … from ').slice(0, 110)}${statement.sql.length > 110 ? '…' : ''}\``, reads, `\`${detail}\``, verdict]);
        }
        if (testCase.goal) figures.push({ label: `${engine === SQLITE ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'}, ${testCase.name}`, value: allIndexed ? 'every statement uses an index' : 'a statement scans a table', goal: 'uses an index', met: allIndexed });
        if (testCase === CASES[0]) {
          // Where the time of the goal's page goes: its SQL alone, the job service (MikroORM), GraphQL in-process.
          const filter = testCase.variables.filter as JobFilter;
          const layers: Array<[string, () => Promise<unknown>]> = [
            [`its SQL alone (knex, no ORM): ${selects.length} statement(s)`, async () => { for (const statement of selects) await knex.raw(statement.sql, statement.bindings as never[]); }],
            ['the job service: MikroORM find + 51 entities', () => services.jobs.list(orm.em.fork(), filter, 50, null)],
            ['GraphQL in-process (yoga.fetch), the app\'s fields', async () => (await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: testCase.query, variables: testCase.variables }) })).json()],
          ];
          for (const [layer, call] of layers) {
            const layerTimes = await timed(call, REQUESTS, WARMUP);
            breakdown.push([layer, ms(percentile(layerTimes, 50)), ms(percentile(layerTimes, 99))]);
          }
          breakdown.push(['over HTTP (fetch on loopback), as above', ms(p50), ms(p99)]);
          // An agent's way to the same page: the MCP tool runs a GraphQL operation in-process, as its session's token.
          const agent = new Client({ name: 'bench', version: '1' });
          await agent.connect(new StreamableHTTPClientTransport(new URL(url.replace(/\/graphql$/, '/mcp'))));
          cleanups.unshift(() => agent.close());
          const toolTimes = await timed(() => agent.callTool({ name: 'search_jobs', arguments: { ...filter, first: 50 } }), REQUESTS, WARMUP);
          breakdown.push(['an MCP tool over Streamable HTTP (the SDK\'s client): search_jobs, the same filter, its summary fields', ms(percentile(toolTimes, 50)), ms(percentile(toolTimes, 99))]);
        }
      }
    } finally {
      for (const cleanup of cleanups) await cleanup();
    }
    return {
      figures,
      tables: [
        { columns: ['query (fields of the app\'s job list)', 'jobs returned', 'p50', 'p99', 'max'], rows },
        { columns: ['query', 'each statement of the request (its columns left out)', 'reads script or input', engine === SQLITE ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN', 'verdict'], rows: plans },
        { columns: [`where the filtered page's time goes (${CASES[0]!.name.split(':')[0]})`, 'p50', 'p99'], rows: breakdown },
      ],
      notes: [
        engine === SQLITE
          ? `${JOBS.toLocaleString('en')} jobs in ${PROJECTS} projects (70 % completed, 15 % failed, 8 % cancelled, 2 % timeout, 3 % running, 2 % pending; 30 % archived; a ~1.5 kB script each) inserted with one SQL statement in ${(insertMs / 1000).toFixed(1)} s; database file ${sizeMiB.toFixed(0)} MiB, WAL, no ANALYZE (the server never runs it).`
          : `The same ${JOBS.toLocaleString('en')} jobs and 10,000 launched elsewhere, in a PostgreSQL database made for the run (Debian's PostgreSQL 15 on this machine, its default settings; locale C.UTF-8), inserted with one SQL statement each and a VACUUM ANALYZE (what autovacuum does soon after a bulk load) in ${(insertMs / 1000).toFixed(1)} s; database ${sizeMiB.toFixed(0)} MiB.`,
        `Each query ${WARMUP} times unmeasured, then ${REQUESTS} times one after the other over HTTP on loopback (fetch → the real app, GraphQL Yoga, MikroORM, ${engine.name}), asking for the same fields as the app's job list.`,
        'The documents are the app\'s own (client/src/api/jobs.ts: JobSummary for a project\'s list, JobRow for the home screen), fragments included; a pending job\'s row says what it waits for, which reads its launch settings.',
        'Usage (client/src/api/usage.ts\'s document): GPU-hours and outcomes per week and group, group totals and the 7/30-day wait table, over 11 weeks holding all 100,000 jobs (0 to 4 GPUs each, 0 to 50 min in the queue) and 10,000 jobs launched elsewhere (2,000 of them also ours, counted once). Every request is computed (the service keeps no answers): whole weeks and days read from the rollups that triggers keep (usage_week, usage_wait), the running jobs and the partial week and days at the edges of the range from the jobs.',
        engine === POSTGRESQL
          ? 'A text search with words goes through job_search\'s GIN index of tsvectors (name weighted A, description B; a phrase of the words within one of them, the last one a prefix), joined to the jobs and sorted newest first; text without a word is an ILIKE on name and description.'
          : plans.some((plan) => /full-text index/.test(String(plan[4])))
          ? 'A text search with words goes through the FTS5 index job_search (name, description, project_id), walked from its newest match (a phrase of the words, the last one a prefix); text without a word (only punctuation) is the LIKE on name and description it always was.'
          : 'A text search is a LIKE on name and description: no index can serve "%word%", so it reads rows until it has a page.',
      ],
    };
  },
});

export default apiBench(SQLITE);
/** npm run bench -- api-postgresql: the same on PostgreSQL, for the group server (issue 21). */
export const postgresql = apiBench(POSTGRESQL);
