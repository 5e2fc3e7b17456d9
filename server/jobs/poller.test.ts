// The poller against a fake transport: what it asks the cluster, how often, and what it makes of the answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterConfig } from '../config.js';
import { Job } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ClusterUnreachableError } from '../errors.js';
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
    expect(services.poller.externalJobs('hpc').map((job) => job.slurmJobId)).toEqual(['77']);
    void subscription.return?.();
  });

  it('keeps the last known states when the cluster fails, and marks the cluster stale', async () => {
    answer = async () => {
      throw new ClusterUnreachableError('hpc', 'connect ECONNREFUSED');
    };
    await services.poller.pollNow('hpc');
    const pending = await orm.em.fork().count(Job, { cluster: 'hpc', state: 'PENDING' });
    expect(pending).toBe(499);
    const status = await services.clusters.status(orm.em.fork(), 'hpc').catch(() => null);
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
