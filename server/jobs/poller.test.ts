// The poller against a fake transport: what it asks the cluster, how often, and what it makes of the answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterConfig } from '../config.js';
import { Job } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, ReauthRequiredError } from '../errors.js';
import { createUserService } from '../access/users.js';
import { createJobRow } from '../../test/factories.js';
import { createServices, type Services } from '../services.js';
import type { ExecResult } from '../ssh/index.js';
import { refuseStream } from '../../test/fake-transport.js';

const MARK = '@@mission-control';

describe('poller', () => {
  let orm: Orm;
  let services: Services;
  const calls: string[][] = [];
  let answer: (argv: readonly string[]) => Promise<ExecResult>;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    services = createServices({
      orm,
      config: { file: 'test.yaml', clusters: [clusterConfig('hpc', { host: 'hpc', user: 'me', agent: true, pollIntervalSeconds: 30 }), clusterConfig('idle', { host: 'idle', user: 'me', agent: true })] },
      clusters: {
        transportFactory: () => ({
          exec: (argv) => {
            calls.push([...argv]);
            return answer(argv);
          },
          close: async () => undefined,
          stream: refuseStream,
        }),
      },
    });
    const em = orm.em.fork();
    const now = new Date();
    for (let i = 1; i <= 500; i++) {
      em.create(Job, {
        tag: `tag${String(i).padStart(9, '0')}`,
        userId: 1,
        projectId: 1,
        cluster: 'hpc',
        name: `job${i}`,
        description: '',
        commitSha: 'a'.repeat(40),
        input: {} as never,
        script: '',
        jobDir: `/home/me/mission-control/jobs/tag${String(i).padStart(9, '0')}`,
        slurmJobId: String(1000 + i),
        state: 'PENDING',
        slurmState: 'PENDING',
        reason: 'Resources',
        archived: false,
        createdAt: now,
        updatedAt: now,
      });
    }
    await em.flush();
  });
  afterAll(async () => {
    await services.close();
    await orm.close();
  });

  it('asks each cluster ONE remote command per poll for 500 tracked jobs, and none for a cluster without jobs', async () => {
    // The queue has 499 of them pending and one that left it; accounting says that one completed.
    const queue = Array.from({ length: 499 }, (_, i) => `${1001 + i}|PENDING|Resources|||NONE|0:00|/home/me/mission-control/jobs/tag${String(i + 1).padStart(9, '0')}/code`);
    queue.push('77|RUNNING|None|node1|2026-11-23T10:00:00|NONE|1:00|/home/me/elsewhere');
    answer = async () => ({ stdout: `${queue.join('\n')}\n${MARK} squeue 0\n1500|COMPLETED|None|0:0|2026-11-23T10:00:00|2026-11-23T10:05:00|00:05:00|node1|/x\n${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 120 });
    const updates: Array<{ id: number; state: string }> = [];
    const subscription = services.events.subscribe('job:updated');
    void (async () => {
      for await (const job of subscription) updates.push({ id: job.id, state: job.state });
    })();

    await Promise.all([services.poller.pollNow('hpc'), services.poller.pollNow('idle')]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.slice(0, 2)).toEqual(['sh', '-c']);
    expect(calls[0]!.slice(6)).toHaveLength(500);

    const done = await orm.em.fork().findOneOrFail(Job, { slurmJobId: '1500' });
    expect(done).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    // Only the job that changed is news; 499 pending jobs that stayed pending are not.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(updates).toEqual([{ id: done.id, state: 'COMPLETED' }]);
    expect(services.poller.externalJobs('hpc', 1).map((job) => job.slurmJobId)).toEqual(['77']);
    void subscription.return?.();
  });

  it('keeps the last known states when the cluster fails, and marks the cluster stale', async () => {
    answer = async () => {
      throw new ClusterUnreachableError('hpc', 'connect ECONNREFUSED');
    };
    await services.poller.pollNow('hpc');
    const pending = await orm.em.fork().count(Job, { cluster: 'hpc', state: 'PENDING' });
    expect(pending).toBe(499);
    const status = await services.clusters.status(orm.em.fork(), 'hpc', 1).catch(() => null);
    expect(status?.stale ?? true).toBe(true);
  });

  it('asks accounting again for a job that ended in the queue before accounting had its exit code, and never calls it unknown', async () => {
    const em = orm.em.fork();
    const now = new Date();
    const job = em.create(Job, {
      tag: 'tagtimedout1',
      userId: 1,
      projectId: 1,
      cluster: 'idle',
      name: 'late',
      description: '',
      commitSha: 'a'.repeat(40),
      input: {} as never,
      script: '',
      jobDir: '/home/me/mission-control/jobs/tagtimedout1',
      slurmJobId: '2000',
      state: 'TIMEOUT',
      slurmState: 'TIMEOUT',
      archived: false,
      createdAt: now,
      updatedAt: now,
      endedAt: now,
    });
    await em.flush();
    const stored = () => orm.em.fork().findOneOrFail(Job, { id: job.id });

    // Accounting does not know it yet: the job keeps its end, without an exit code.
    calls.length = 0;
    answer = async () => ({ stdout: `${MARK} squeue 0\n${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 50 });
    await services.poller.pollNow('idle');
    expect(calls.map((call) => call.slice(-1))).toEqual([['2000']]);
    expect(await stored()).toMatchObject({ state: 'TIMEOUT', exitCode: null });

    answer = async () => ({ stdout: `${MARK} squeue 0\n2000|TIMEOUT|None|0:15|2026-11-23T10:00:00|2026-11-23T10:01:00|00:01:00|node1|/x\n${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 50 });
    await services.poller.pollNow('idle');
    expect(await stored()).toMatchObject({ state: 'TIMEOUT', exitCode: 0, signal: 15 });

    // With its exit code known, it is asked about no more.
    calls.length = 0;
    await services.poller.pollNow('idle');
    expect(calls).toEqual([]);
  });

  it('starts no poll once stopped, whoever asks late (a lifecycle timer after shutdown)', async () => {
    calls.length = 0;
    await services.poller.stop();
    await services.poller.pollNow('hpc');
    expect(calls).toEqual([]);
  });
});

describe("poller on a group server: each user's jobs over their own login", () => {
  let orm: Orm;
  let services: Services;
  /** Each remote command with the account it ran as. */
  const calls: Array<{ user: string; argv: string[] }> = [];
  const expired = new Set<string>();
  const ids = { owner: 1, alice: 0, bob: 0 };

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const users = createUserService({ orm });
    ids.alice = (await users.add('alice')).id;
    ids.bob = (await users.add('bob')).id;
    const hpc = clusterConfig('hpc', { host: 'hpc', user: 'owner-acct', agent: true, logins: { alice: { user: 'alice-acct', agent: true } } });
    services = createServices({
      orm,
      config: { file: 'test.yaml', clusters: [hpc] },
      clusters: {
        transportFactory: (connection) => ({
          exec: async (argv) => {
            calls.push({ user: connection.user!, argv: [...argv] });
            if (expired.has(connection.user!)) throw new ReauthRequiredError('hpc', `ssh -M ${connection.user}@hpc`);
            // Every job asked about is RUNNING; each account also has one job of its own Mission Control did not submit.
            const asked = argv.slice(6);
            const lines = [...asked.map((id) => `${id}|RUNNING|None|node1|2026-11-23T10:00:00|NONE|1:00|/home/x/mission-control/jobs/tag000000${id}/code`), `9${connection.user!.length}|PENDING|Priority|||NONE|0:00|/home/${connection.user}/own`];
            return { stdout: `${lines.join('\n')}\n${MARK} squeue 0\n${MARK} accounting on\n`, stderr: '', exitCode: 0, durationMs: 5 };
          },
          close: async () => undefined,
          stream: refuseStream,
        }),
      },
    });
    const em = orm.em.fork();
    for (const [userId, slurmJobId] of [[ids.owner, '101'], [ids.owner, '102'], [ids.alice, '201'], [ids.bob, '301']] as const) {
      createJobRow(em, { cluster: 'hpc', userId, slurmJobId, state: 'PENDING', jobDir: `/home/x/mission-control/jobs/tag000000${slurmJobId}` });
    }
    await em.flush();
  });

  afterAll(async () => {
    await services.close();
    await orm.close();
  });

  const stateOf = async (slurmJobId: string) => (await orm.em.fork().findOneOrFail(Job, { slurmJobId })).state;

  it("asks ONE command per login, each about its own user's jobs only; a user without a login costs no command", async () => {
    await services.poller.pollNow('hpc');
    const asked = calls.map((call) => ({ user: call.user, ids: call.argv.slice(6) }));
    expect(asked).toHaveLength(2);
    expect(asked).toEqual(expect.arrayContaining([{ user: 'owner-acct', ids: ['101', '102'] }, { user: 'alice-acct', ids: ['201'] }]));
    expect([await stateOf('101'), await stateOf('201')]).toEqual(['RUNNING', 'RUNNING']);
    // Bob has no login on hpc: his job keeps its state, and his card says why.
    expect(await stateOf('301')).toBe('PENDING');
    const bob = await services.clusters.status(orm.em.fork(), 'hpc', ids.bob);
    expect(bob).toMatchObject({ stale: true, lastPollError: expect.stringMatching(/bob has no login on cluster "hpc".*clusters\.hpc\.logins\.bob/) });
    // Each user sees the queue's other jobs of their own account only.
    expect(services.poller.externalJobs('hpc', ids.owner).map((job) => job.workDir)).toEqual(['/home/owner-acct/own']);
    expect(services.poller.externalJobs('hpc', ids.alice).map((job) => job.workDir)).toEqual(['/home/alice-acct/own']);
    expect(services.poller.externalJobs('hpc', ids.bob)).toEqual([]);
  });

  it("marks only the expired login's user stale and needing a login; the others' polls go on", async () => {
    calls.length = 0;
    expired.add('alice-acct');
    const heard: Array<{ userId: number; needsReauth: string | null }> = [];
    const subscription = services.events.subscribe('cluster:status');
    void (async () => {
      for await (const status of subscription) heard.push({ userId: status.userId, needsReauth: status.needsReauth });
    })();
    // A status read first puts the check in the cache, which a changed poll record is announced from.
    await services.clusters.status(orm.em.fork(), 'hpc', ids.alice);
    calls.length = 0;
    await services.poller.pollNow('hpc');
    expect(calls.map((call) => call.user).sort()).toEqual(['alice-acct', 'owner-acct']);
    const alice = await services.clusters.status(orm.em.fork(), 'hpc', ids.alice);
    const owner = await services.clusters.status(orm.em.fork(), 'hpc', ids.owner);
    expect(alice).toMatchObject({ stale: true, needsReauth: 'ssh -M alice-acct@hpc' });
    expect(owner).toMatchObject({ stale: false, needsReauth: null });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(heard).toContainEqual({ userId: ids.alice, needsReauth: 'ssh -M alice-acct@hpc' });
    // The owner's card may be announced (its own check), never with alice's expired login.
    expect(heard.filter((status) => status.userId !== ids.alice && status.needsReauth !== null)).toEqual([]);
    expect(services.clusters.known()).toEqual([expect.objectContaining({ name: 'hpc', stale: true, needsReauth: true })]);
    void subscription.return?.();
    expired.clear();
  });
});
