// An upgrade from the previous release's database: one made by the migrations in git at c71002d (the first two), with
// projects and jobs in many states written the way that release wrote them, is migrated by every migration there is
// now. Nothing may be lost or changed, and the current code must read it. Newer migrations may add what they like:
// the test names only the old ones.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import { expect, it } from 'vitest';
import { migrationsList } from '../../migrations/sqlite/index.js';
import { ClusterCheck, Job, Project } from './entities.js';
import { ormConfig } from './orm-config.js';
import type { Orm } from './orm.js';

const PREVIOUS_RELEASE = ['Migration20261123000000', 'Migration20261123213838'];

// MikroORM keeps datetimes in SQLite as epoch milliseconds, booleans as 0/1 and JSON as text.
const at = (iso: string) => Date.parse(iso);

const projects = [
  { id: 1, name: 'resnet', local_path: '/home/me/resnet', origin_url: 'https://github.com/me/resnet', clone_url: 'git@github.com:me/resnet.git', branch: 'main', head_sha: 'a'.repeat(40), head_subject: 'Tune lr', dirty: 0, pushed: 1, settings: JSON.stringify({ train_script: 'train.py', python: 'python3', env: { WANDB_PROJECT: 'resnet' } }), synced_at: at('2026-11-20T10:00:00Z'), created_at: at('2026-11-01T09:00:00Z'), deleted_at: null },
  { id: 2, name: 'old-vit', local_path: '/home/me/vit', origin_url: null, clone_url: null, branch: null, head_sha: 'b'.repeat(40), head_subject: 'WIP "quotes" and \u00e9', dirty: 1, pushed: 0, settings: JSON.stringify({}), synced_at: at('2026-10-02T10:00:00Z'), created_at: at('2026-10-01T09:00:00Z'), deleted_at: at('2026-11-02T09:00:00Z') },
];

const input = (changes: Record<string, unknown> = {}) =>
  JSON.stringify({ projectId: 1, cluster: 'hpc', name: null, description: '', partition: 'gpu', account: null, qos: null, nodes: 1, gpusPerNode: 2, gpuType: 'a100', cpusPerTask: 8, memory: '64G', timeLimit: '4:00:00', primary: 'train', groups: [{ group: 'model', option: 'vit' }], parameters: [{ path: 'optimizer.lr', value: 0.001 }], rawOverrides: 'seed=7', parentJobId: null, allowUnpushed: false, ...changes });

const job = (id: number, state: string, changes: Record<string, unknown> = {}) => ({
  id,
  tag: `tag${String(id).padStart(9, '0')}`,
  project_id: 1,
  parent_id: null,
  cluster: 'hpc',
  name: 'resnet',
  description: `run ${id}: $(not a command) 'quoted' \u00e9`,
  commit_sha: 'a'.repeat(40),
  branch: 'main',
  input: input({ description: `run ${id}` }),
  script: `#!/bin/bash\n#SBATCH --job-name=resnet\npython3 train.py seed=${id}\n`,
  job_dir: `/home/me/mission-control/jobs/tag${String(id).padStart(9, '0')}`,
  slurm_job_id: String(1000 + id),
  state,
  slurm_state: state,
  reason: null,
  exit_code: null,
  signal: null,
  node_list: null,
  submit_error: null,
  wandb_url: null,
  archived: 0,
  created_at: at('2026-11-20T10:00:00Z') + id * 1000,
  updated_at: at('2026-11-20T11:00:00Z') + id * 1000,
  submitted_at: at('2026-11-20T10:00:01Z') + id * 1000,
  started_at: null,
  ended_at: null,
  elapsed_seconds: null,
  last_seen_at: null,
  ...changes,
});

const jobs = [
  job(1, 'SUBMITTING', { slurm_job_id: null, slurm_state: null, submitted_at: null, submit_error: 'Not known yet whether SLURM got this job' }),
  job(2, 'SUBMIT_FAILED', { slurm_job_id: null, slurm_state: null, submitted_at: null, submit_error: 'sbatch: error: Invalid partition name specified', ended_at: at('2026-11-20T10:00:05Z') }),
  job(3, 'PENDING', { reason: 'Resources' }),
  job(4, 'RUNNING', { node_list: 'gpu-a100', started_at: at('2026-11-20T10:01:00Z'), elapsed_seconds: 120, wandb_url: 'https://wandb.ai/me/resnet/runs/abcd1234', last_seen_at: at('2026-11-20T10:03:00Z') }),
  job(5, 'COMPLETED', { exit_code: 0, node_list: 'gpu-a100', started_at: at('2026-11-20T10:01:00Z'), ended_at: at('2026-11-20T12:01:00Z'), elapsed_seconds: 7200 }),
  job(6, 'FAILED', { exit_code: 3, node_list: 'gpu-h100', parent_id: 5, input: input({ parentJobId: 5, gpusPerNode: 1 }) }),
  job(7, 'CANCELLED', { slurm_state: 'CANCELLED by 1001', signal: 15, archived: 1 }),
  job(8, 'TIMEOUT', { exit_code: 0, signal: 15, elapsed_seconds: 14400 }),
  job(9, 'UNKNOWN', { project_id: 2, cluster: 'retired-cluster' }),
];

const clusterChecks = [
  { cluster: 'hpc', reachable: 1, latency_ms: 55, slurm_version: '22.05.8', partitions: JSON.stringify([{ name: 'gpu', isDefault: true, available: true, nodes: 2, states: [{ state: 'idle', nodes: 2 }] }]), error: null, checked_at: at('2026-11-20T10:00:00Z') },
  { cluster: 'retired-cluster', reachable: 0, latency_ms: null, slurm_version: null, partitions: '[]', error: 'connect ECONNREFUSED', checked_at: at('2026-11-19T10:00:00Z') },
];

function insert(table: string, row: Record<string, unknown>): [string, unknown[]] {
  const columns = Object.keys(row);
  return [`insert into \`${table}\` (${columns.map((column) => `\`${column}\``).join(', ')}) values (${columns.map(() => '?').join(', ')})`, Object.values(row)];
}

it('upgrades a database of the previous release, with projects and jobs in every state, losing and changing nothing', async () => {
  expect(migrationsList.slice(0, 2).map((migration) => migration.name)).toEqual(PREVIOUS_RELEASE);
  const file = join(mkdtempSync(join(tmpdir(), 'mc-upgrade-')), 'mission-control.sqlite');

  const old = (await MikroORM.init(await ormConfig(file))) as Orm;
  try {
    await old.getMigrator().up({ to: PREVIOUS_RELEASE.at(-1) });
    expect((await old.getMigrator().getExecutedMigrations()).map((migration) => migration.name)).toEqual(PREVIOUS_RELEASE);
    const connection = old.em.getConnection();
    for (const [table, rows] of [['project', projects], ['job', jobs], ['cluster_check', clusterChecks]] as const) {
      for (const row of rows) await connection.execute(...insert(table, row));
    }
  } finally {
    await old.close();
  }

  const current = (await MikroORM.init(await ormConfig(file))) as Orm;
  try {
    const migrator = current.getMigrator();
    await migrator.up();
    expect(await migrator.getPendingMigrations()).toEqual([]);
    expect((await migrator.getExecutedMigrations()).map((migration) => migration.name)).toEqual(migrationsList.map((migration) => migration.name));

    // Row by row, column by column, as the previous release wrote them.
    const connection = current.em.getConnection();
    for (const [table, key, rows] of [['project', 'id', projects], ['job', 'id', jobs], ['cluster_check', 'cluster', clusterChecks]] as const) {
      const stored = await connection.execute(`select * from \`${table}\` order by \`${key}\``);
      expect(stored).toHaveLength(rows.length);
      rows.forEach((row, index) => expect(stored[index], `${table} ${String((row as Record<string, unknown>)[key])}`).toMatchObject(row));
    }

    // And the current code reads them.
    const em = current.em.fork();
    const read = await em.find(Job, {}, { orderBy: { id: 'asc' } });
    expect(read.map((entity) => [entity.id, entity.state, entity.slurmJobId])).toEqual(jobs.map((row) => [row.id, row.state, row.slurm_job_id]));
    expect(read[5]!.input).toMatchObject({ parentJobId: 5, gpusPerNode: 1, groups: [{ group: 'model', option: 'vit' }], parameters: [{ path: 'optimizer.lr', value: 0.001 }] });
    expect(read[3]!.startedAt).toEqual(new Date('2026-11-20T10:01:00Z'));
    expect(read[6]!.archived).toBe(true);
    const readProjects = await em.find(Project, {}, { orderBy: { id: 'asc' } });
    expect(readProjects.map((project) => [project.name, project.pushed, project.deletedAt?.toISOString() ?? null])).toEqual([
      ['resnet', true, null],
      ['old-vit', false, '2026-11-02T09:00:00.000Z'],
    ]);
    expect(readProjects[0]!.settings).toEqual({ train_script: 'train.py', python: 'python3', env: { WANDB_PROJECT: 'resnet' } });
    expect((await em.findOneOrFail(ClusterCheck, { cluster: 'hpc' })).partitions).toEqual([{ name: 'gpu', isDefault: true, available: true, nodes: 2, states: [{ state: 'idle', nodes: 2 }] }]);

    // The upgraded database takes new rows next to the old ones.
    em.create(Job, { ...read[4]!, id: undefined, tag: 'afterupgrade', createdAt: new Date(), updatedAt: new Date() } as never);
    await em.flush();
    expect(await current.em.fork().count(Job)).toBe(jobs.length + 1);
    expect(await connection.execute('pragma integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  } finally {
    await current.close();
  }
});

it('gives push devices registered before devices had owners to the one token there was, and to none when there were several', async () => {
  for (const tokens of [['phone'], ['phone', 'laptop']]) {
    const file = join(mkdtempSync(join(tmpdir(), 'mc-upgrade-owners-')), 'mission-control.sqlite');
    const orm = (await MikroORM.init(await ormConfig(file))) as Orm;
    try {
      await orm.getMigrator().up({ to: 'Migration20261124000200' });
      const connection = orm.em.getConnection();
      for (const [index, name] of tokens.entries()) {
        await connection.execute(...insert('api_token', { id: index + 1, name, token_hash: String(index).repeat(64), read_only: 0, created_at: at('2026-11-25T10:00:00Z'), last_used_at: null }));
      }
      const device = { id: 1, endpoint: 'https://push.example.net/send/1', p256dh: 'key', auth: 'secret', pending_after_minutes: null, muted_project_ids: '[]', created_at: at('2026-11-25T10:00:00Z'), updated_at: at('2026-11-25T10:00:00Z'), last_success_at: null, last_failure_at: null, last_error: null };
      await connection.execute(...insert('push_subscription', device));
      await orm.getMigrator().up();
      const [row] = await connection.execute<Array<{ token_id: number | null; endpoint: string }>>('select token_id, endpoint from push_subscription');
      expect(row).toEqual({ token_id: tokens.length === 1 ? 1 : null, endpoint: device.endpoint });
      // The owner's revocation takes its devices along.
      await connection.execute('delete from api_token where id = 1');
      expect(await connection.execute('select count(*) as n from push_subscription')).toEqual([{ n: tokens.length === 1 ? 0 : 1 }]);
    } finally {
      await orm.close();
    }
  }
});

it('makes a single-user server a server with one user, `owner`, an admin, who owns everything, with the same usage figures', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'mc-upgrade-users-')), 'mission-control.sqlite');
  const orm = (await MikroORM.init(await ormConfig(file))) as Orm;
  try {
    await orm.getMigrator().up({ to: 'Migration20261206000000' });
    const connection = orm.em.getConnection();
    for (const row of projects) await connection.execute(...insert('project', row));
    for (const row of jobs) await connection.execute(...insert('job', row));
    await connection.execute(...insert('api_token', { id: 1, name: 'phone', token_hash: '0'.repeat(64), read_only: 0, created_at: at('2026-11-25T10:00:00Z'), last_used_at: null }));
    await connection.execute(
      ...insert('push_subscription', { id: 1, endpoint: 'https://push.example.net/send/1', p256dh: 'key', auth: 'secret', token_id: 1, pending_after_minutes: null, muted_project_ids: '[]', created_at: at('2026-11-25T10:00:00Z'), updated_at: at('2026-11-25T10:00:00Z'), last_success_at: null, last_failure_at: null, last_error: null }),
    );
    await connection.execute(
      ...insert('sacct_read', { cluster: 'hpc', since: at('2026-11-18T23:45:00Z'), read_at: at('2026-11-19T00:00:00Z'), attempted_at: at('2026-11-19T00:00:00Z'), jobs: 1, error: null }),
    );
    await connection.execute(
      ...insert('sacct_job', { cluster: 'hpc', slurm_job_id: '555', state: 'COMPLETED', slurm_state: 'COMPLETED', slurm_partition: 'gpu', gpu_count: 4, gpu_type: 'a100', exit_code: 0, submitted_at: at('2026-11-18T10:00:00Z'), started_at: at('2026-11-18T11:00:00Z'), ended_at: at('2026-11-18T15:00:00Z'), read_at: at('2026-11-19T00:00:00Z') }),
    );
    // The figures the rollups hold (rows counted down to nothing are no figure: the triggers leave them, a rebuild does not).
    const figures = async () => ({
      weeks: await connection.execute('select "week", "cluster", "project_id", "gpu_type", "state", "jobs", "gpu_ms" from "usage_week" where "jobs" <> 0 or "gpu_ms" <> 0 order by 1, 2, 3, 4, 5'),
      waits: await connection.execute('select "days", "period", "cluster", "partition", "gpu_type", "wait_s", "jobs" from "usage_wait" where "jobs" <> 0 order by 1, 2, 3, 4, 5, 6'),
    });
    const before = await figures();
    expect(before.weeks.length).toBeGreaterThan(1);

    await orm.getMigrator().up();
    expect(await connection.execute('select "id", "name", "admin" from "user_account"')).toEqual([{ id: 1, name: 'owner', admin: 1 }]);
    for (const table of ['project', 'job', 'api_token', 'push_subscription', 'sacct_job', 'sacct_read', 'usage_week', 'usage_wait']) {
      expect(await connection.execute(`select distinct "user_id" from "${table}"`), table).toEqual([{ user_id: 1 }]);
    }
    expect(await figures()).toEqual(before);
    // The owner's login read accounting up to then; the next read goes on from where it stopped.
    expect(await connection.execute('select "cluster", "user_id", "since", "jobs" from "sacct_read"')).toEqual([{ cluster: 'hpc', user_id: 1, since: at('2026-11-18T23:45:00Z'), jobs: 1 }]);
    // The rollups' triggers count new rows with their user.
    await connection.execute(...insert('job', { ...job(20, 'COMPLETED', { exit_code: 0, started_at: at('2026-11-20T10:01:00Z'), ended_at: at('2026-11-20T11:01:00Z') }), user_id: 2 }));
    expect(await connection.execute('select "user_id", sum("jobs") as "jobs" from "usage_week" group by "user_id" order by 1')).toEqual([
      { user_id: 1, jobs: before.weeks.reduce((sum, row) => sum + (row as { jobs: number }).jobs, 0) },
      { user_id: 2, jobs: 1 },
    ]);
  } finally {
    await orm.close();
  }
});
