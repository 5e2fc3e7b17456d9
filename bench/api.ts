// The API at scale: 100,000 jobs in SQLite, the queries the phone app sends (a project's jobs in one state, the
// home screen, a text search), timed over HTTP against the real app, with SQLite's plan for the filtered page.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, Figure } from './bench.js';
import { percentile } from './bench.js';
import { ms, timed } from './support.js';
import { createApp } from '../server/http/app.js';
import { initOrm } from '../server/db/orm.js';
import type { JobFilter } from '../server/jobs/service.js';
import { createServices } from '../server/services.js';

const JOBS = 100_000;
const PROJECTS = 20;
const REQUESTS = 300;
const WARMUP = 30;
const P99_GOAL_MS = 10;

// The fields the app asks for in every job list (client/src/api/jobs.ts, JOB_SUMMARY_FIELDS).
const SUMMARY = `id projectId name description tag cluster state slurmState slurmJobId reason exitCode signal nodeList parentId archived wandbUrl
  createdAt submittedAt startedAt endedAt elapsedSeconds submitError`;
const LIST = `query Jobs($filter: JobFilter, $first: Int, $after: String) { jobs(filter: $filter, first: $first, after: $after) { nodes { ${SUMMARY} } pageInfo { endCursor hasNextPage } } }`;
const HOME = `query HomeJobs($active: [JobState!]) {
  recent: jobs(first: 60, filter: { archived: false }) { nodes { ${SUMMARY} } }
  active: jobs(first: 200, filter: { states: $active }) { nodes { ${SUMMARY} } } }`;

// A script of the size the default template renders, stored with every job.
const SCRIPT = `#!/bin/bash\n#SBATCH --job-name=resnet-@\n#SBATCH --partition=gpu\n#SBATCH --gres=gpu:a100:2\n#SBATCH --cpus-per-task=8\n#SBATCH --mem=64G\n#SBATCH --time=24:00:00\n${'# lifecycle, environment and checkout lines of the default template\n'.repeat(20)}python train.py model=resnet optimizer.lr=0.00@ trainer.max_epochs=90\n`;

// 100,000 jobs in one statement: 20 projects, mostly finished (completed, failed, cancelled, timeout), 3 % running,
// 2 % pending, older ones archived; descriptions from a few words, "vit-large" in about 1 in 60.
const INSERT = `
with recursive n(i) as (select 1 union all select i + 1 from n where i < ${JOBS}),
s(i, state) as (select i, case when (i * 7919) % 100 < 70 then 'COMPLETED' when (i * 7919) % 100 < 85 then 'FAILED' when (i * 7919) % 100 < 93 then 'CANCELLED'
  when (i * 7919) % 100 < 95 then 'TIMEOUT' when (i * 7919) % 100 < 98 then 'RUNNING' else 'PENDING' end from n)
insert into job (tag, project_id, parent_id, cluster, name, description, commit_sha, branch, input, script, job_dir, slurm_job_id,
  state, slurm_state, reason, exit_code, signal, node_list, submit_error, wandb_url, archived, created_at, updated_at,
  submitted_at, started_at, ended_at, elapsed_seconds, last_seen_at)
select printf('t%011d', i), 1 + i % ${PROJECTS}, case when i % 5 = 0 then i - 1 else null end, case i % 3 when 0 then 'lab' when 1 then 'hpc' else 'cloud' end,
  printf('project-%d-run-%d', 1 + i % ${PROJECTS}, i),
  case i % 4 when 0 then 'baseline sweep lr ' || (i % 97) when 1 then 'resnet50 cifar10 augment ' || (i % 13) when 2 then 'ablation dropout ' || (i % 7) else 'long run seed ' || (i % 1000) end
    || case when i % 61 = 0 then ' vit-large' else '' end,
  printf('%040x', i), 'main', '{"projectId":1,"cluster":"lab","primary":"train","groups":[],"parameters":[{"path":"optimizer.lr","value":0.001}],"rawOverrides":[]}',
  replace(?, '@', i), printf('/home/user/mission-control/jobs/t%011d', i), cast(100000 + i as text),
  s.state, s.state, null, case s.state when 'COMPLETED' then 0 when 'FAILED' then 1 else null end, null, 'gpu-a100', null, null,
  case when i < ${JOBS * 0.3} and s.state not in ('RUNNING', 'PENDING') then 1 else 0 end,
  1700000000000 + i * 60000, 1700000000000 + i * 60000, 1700000000000 + i * 60000, 1700000060000 + i * 60000,
  case when s.state in ('RUNNING', 'PENDING') then null else 1700003600000 + i * 60000 end, 3600, 1700003600000 + i * 60000
from s`;

const ACTIVE = ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING', 'UNKNOWN'];


interface Case {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The job service's SQL for this case is explained. */
  explain?: boolean;
  goal?: boolean;
}

const CASES: Case[] = [
  { name: 'filtered page: jobs(filter: {projectId: 7, states: [FAILED]}, first: 50)', query: LIST, variables: { filter: { projectId: 7, states: ['FAILED'] }, first: 50 }, explain: true, goal: true },
  { name: 'filtered page, a rare state: {projectId: 7, states: [RUNNING]}', query: LIST, variables: { filter: { projectId: 7, states: ['RUNNING'] }, first: 50 }, explain: true, goal: true },
  { name: 'filtered page, the app\'s "not archived": {projectId: 7, archived: false}', query: LIST, variables: { filter: { projectId: 7, archived: false }, first: 50 }, explain: true },
  { name: 'home screen (60 recent + up to 200 active)', query: HOME, variables: { active: ACTIVE } },
  { name: 'text search, all jobs: {search: "vit-large"}', query: LIST, variables: { filter: { search: 'vit-large' }, first: 50 }, explain: true },
  { name: 'text search in a project: {projectId: 7, search: "vit-large"}', query: LIST, variables: { filter: { projectId: 7, search: 'vit-large' }, first: 50 }, explain: true },
];

const bench: Bench = {
  title: 'API at scale: 100,000 jobs in SQLite, over HTTP',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-api-'));
    const file = join(dir, 'mission-control.sqlite');
    const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
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
        await seeding.em.getConnection().execute(INSERT, [SCRIPT]);
        insertMs = performance.now() - insertStarted;
      } finally {
        await seeding.close();
      }
      // Reopened, as a server starting on an existing database.
      const orm = await initOrm(file);
      cleanups.unshift(() => orm.close());
      sizeMiB = statSync(file).size / 2 ** 20;
      const services = createServices({ orm, config: { file: 'bench', clusters: [] } });
      cleanups.unshift(() => services.close());
      const app = createApp({ services, access: { allowWithoutToken: true } });
      const url = `${await app.start(0, '127.0.0.1')}/graphql`;
      cleanups.unshift(() => app.stop());
      const knex = orm.em.getConnection().getKnex();
      for (const testCase of CASES) {
        const request = async () => {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: testCase.query, variables: testCase.variables }) });
          const body = (await response.json()) as { data?: Record<string, { nodes: unknown[] }>; errors?: unknown };
          if (!body.data) throw new Error(`${testCase.name}: ${JSON.stringify(body.errors).slice(0, 300)}`);
          return body.data;
        };
        // The SQL the job service runs for this case, caught on its way to SQLite.
        const statements: Array<{ sql: string; bindings: unknown[] }> = [];
        const listen = (query: { sql: string; bindings?: unknown[] }) => statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
        knex.on('query', listen);
        const first = await request();
        knex.off('query', listen);
        const times = await timed(request, REQUESTS, WARMUP);
        const found = Object.values(first).map((connection) => connection.nodes.length).join(' + ');
        const p99 = percentile(times, 99);
        rows.push([testCase.name, found, ms(percentile(times, 50)), ms(p99), ms(Math.max(...times))]);
        if (testCase.goal) figures.push({ label: `p99 over HTTP, ${testCase.name}`, value: `${ms(p99)} (p50 ${ms(percentile(times, 50))})`, goal: `< ${P99_GOAL_MS} ms`, met: p99 < P99_GOAL_MS });
        if (testCase.explain) {
          const listQuery = statements.find((statement) => /^select .* from [`"]?job[`"]? /i.test(statement.sql));
          if (!listQuery) throw new Error(`${testCase.name}: no select from job was seen (${statements.map((statement) => statement.sql).join('; ')})`);
          const plan = (await orm.em.getConnection().execute(`explain query plan ${listQuery.sql}`, listQuery.bindings as never[])) as Array<{ detail: string }>;
          const detail = plan.map((step) => step.detail).join('; ');
          const index = /USING (?:COVERING )?INDEX (\S+)/.exec(detail)?.[1];
          const verdict = index ? `index ${index}${/TEMP B-TREE/.test(detail) ? ', plus a sort' : ', no sort'}` : 'no index: scans the table';
          plans.push([testCase.name, `\`${detail}\``, verdict]);
          if (testCase === CASES[0]) {
            // Where the time of the goal's page goes: the SQL alone, the job service (MikroORM), GraphQL in-process.
            const filter = testCase.variables.filter as JobFilter;
            const layers: Array<[string, () => Promise<unknown>]> = [
              ['its SQL alone (knex, no ORM)', () => knex.raw(listQuery.sql, listQuery.bindings as never[])],
              ['the job service: MikroORM find + 51 entities', () => services.jobs.list(orm.em.fork(), filter, 50, null)],
              ['GraphQL in-process (yoga.fetch), the app\'s fields', async () => (await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: testCase.query, variables: testCase.variables }) })).json()],
            ];
            for (const [layer, call] of layers) {
              const layerTimes = await timed(call, REQUESTS, WARMUP);
              breakdown.push([layer, ms(percentile(layerTimes, 50)), ms(percentile(layerTimes, 99))]);
            }
            breakdown.push(['over HTTP (fetch on loopback), as above', ms(percentile(times, 50)), ms(percentile(times, 99))]);
          }
          if (testCase.goal) figures.push({ label: `EXPLAIN QUERY PLAN, ${testCase.name}`, value: verdict, goal: 'uses an index', met: Boolean(index) });
        }
      }
    } finally {
      for (const cleanup of cleanups) await cleanup();
    }
    return {
      figures,
      tables: [
        { columns: ['query (fields of the app\'s job list)', 'jobs returned', 'p50', 'p99', 'max'], rows },
        { columns: ['query', 'EXPLAIN QUERY PLAN of the job service\'s SQL', 'verdict'], rows: plans },
        { columns: [`where the filtered page's time goes (${CASES[0]!.name.split(':')[0]})`, 'p50', 'p99'], rows: breakdown },
      ],
      notes: [
        `${JOBS.toLocaleString('en')} jobs in ${PROJECTS} projects (70 % completed, 15 % failed, 8 % cancelled, 2 % timeout, 3 % running, 2 % pending; 30 % archived; a ~1.5 kB script each) inserted with one SQL statement in ${(insertMs / 1000).toFixed(1)} s; database file ${sizeMiB.toFixed(0)} MiB, WAL, no ANALYZE (the server never runs it).`,
        `Each query ${WARMUP} times unmeasured, then ${REQUESTS} times one after the other over HTTP on loopback (fetch → the real app, GraphQL Yoga, MikroORM, SQLite), asking for the same fields as the app's job list.`,
        'A text search is a LIKE on name and description: no index can serve "%word%", so it reads rows until it has a page (SQLite\'s full-text search would be the next step if it is too slow).',
      ],
    };
  },
};

export default bench;
