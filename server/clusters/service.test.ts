// The cluster service's per-login facts across a group server's replicas: what the leader's poller learned of a login
// reaches a follower's cards (they share the event bus, as Redis makes them), and a change is announced even when
// nobody had looked at that login's card (the re-login push depends on it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserService } from '../access/users.js';
import { clusterConfig, type ClusterConfig } from '../config.js';
import { initOrm, type Orm } from '../db/orm.js';
import { createEvents } from '../events.js';
import { refuseStream } from '../../test/fake-transport.js';
import { createClusterService, type ClusterService, type ClusterStatus } from './service.js';

const PROBE_ANSWER = 'slurm 23.11.4\n--mission-control--\ngpu*|up|2|idle\n';

describe('cluster service on a group server', () => {
  let orm: Orm;
  let leader: ClusterService;
  let follower: ClusterService;
  const events = createEvents();
  const probesBy: string[] = [];
  let alice = 0;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    alice = (await createUserService({ orm }).add('alice')).id;
    const hpc = clusterConfig('hpc', { host: 'hpc', user: 'owner-acct', agent: true, logins: { alice: { user: 'alice-acct', agent: true } } });
    const transportFactory = (connection: ClusterConfig) => ({
      exec: async () => {
        probesBy.push(connection.user!);
        return { stdout: PROBE_ANSWER, stderr: '', exitCode: 0, durationMs: 3 };
      },
      close: async () => undefined,
      stream: refuseStream,
    });
    const config = { file: 'test.yaml', clusters: [hpc] };
    leader = createClusterService({ orm, config, events, transportFactory });
    follower = createClusterService({ orm, config, events, transportFactory });
  });

  afterAll(async () => {
    await leader.close();
    await follower.close();
    await orm.close();
  });

  it("announces a login's changed poll with a fresh check over that login when none is cached, and the follower's card shows it", async () => {
    const heard: ClusterStatus[] = [];
    const subscription = events.subscribe('cluster:status');
    void (async () => {
      for await (const status of subscription) heard.push(status);
    })();
    const command = 'ssh -M alice-acct@hpc true';
    leader.recordPoll('hpc', alice, { at: new Date(), error: 'needs you to log in again', needsReauth: command });
    await expect.poll(() => heard.find((status) => status.userId === alice)?.needsReauth).toBe(command);
    expect(probesBy).toEqual(['alice-acct']);
    // The follower polls nothing, yet says what the leader learned; the owner's card is untouched by alice's login.
    expect(await follower.status(orm.em.fork(), 'hpc', alice)).toMatchObject({ stale: true, needsReauth: command, lastPollError: 'needs you to log in again' });
    expect(await follower.status(orm.em.fork(), 'hpc', 1)).toMatchObject({ stale: false, needsReauth: null });
    expect(follower.known()).toEqual([expect.objectContaining({ name: 'hpc', stale: true, needsReauth: true })]);

    // Working again: announced (from the cached check now), and an older announcement never undoes a newer one.
    const heardBefore = heard.length;
    leader.recordPoll('hpc', alice, { at: new Date(Date.now() + 1000), error: null, needsReauth: null });
    await expect.poll(() => heard.length).toBeGreaterThan(heardBefore);
    events.publish('cluster:status', { ...heard.find((status) => status.needsReauth)!, lastPollAt: new Date(Date.now() - 60_000) });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await follower.status(orm.em.fork(), 'hpc', alice)).toMatchObject({ stale: false, needsReauth: null });
    void subscription.return?.();
  });

  it('announces nothing when a poll learned nothing new', async () => {
    const heard: ClusterStatus[] = [];
    const subscription = events.subscribe('cluster:status');
    void (async () => {
      for await (const status of subscription) heard.push(status);
    })();
    leader.recordPoll('hpc', 1, { at: new Date(), error: null, needsReauth: null });
    leader.recordPoll('hpc', 1, { at: new Date(), error: null, needsReauth: null });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A login's first poll that worked is no news (it was presumed working), nor the same again.
    expect(heard.filter((status) => status.userId === 1)).toEqual([]);
    void subscription.return?.();
  });
});
