import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterConfig, type ClusterConfig } from '../config.js';
import { ClusterUnreachableError, CommandTimeoutError, NotFoundError, SlurmError } from '../errors.js';
import { createGpuService, type GpuAvailability } from './gpu.js';
import type { ExecResult, StreamingTransport } from '../ssh/index.js';
import { refuseStream } from '../../test/fake-transport.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');
const IDLE = fixture('gpu-idle.txt');
const BUSY = fixture('gpu-a100-running-pending.txt');

type Answer = () => ExecResult | Promise<ExecResult>;
const answer = (stdout: string, exitCode = 0, stderr = ''): Answer => () => ({ stdout, stderr, exitCode, durationMs: 55 });

// The first admin, whose login is the cluster entry's own account: "the cluster" of a single-user server.
const OWNER = 1;

/** One login's connection to the cluster: its answers a test swaps; every exec is counted and takes a few ms, so concurrent readers overlap. */
function fakeLogin() {
  const login = { execs: 0, argv: [] as string[][], next: answer(IDLE) };
  const transport: StreamingTransport = {
    async exec(argv) {
      login.execs++;
      login.argv.push([...argv]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return login.next();
    },
    close: async () => undefined,
    stream: refuseStream,
  };
  return Object.assign(login, { transport });
}

/** A cluster reached through one fake login per user; `cluster` is the first admin's, and `askedFor` lists whose transport each read took. */
function setup(entries: Partial<ClusterConfig> = {}) {
  let now = Date.parse('2026-11-23T12:00:00Z');
  const config = { ...clusterConfig('lab', { host: 'lab.example.edu', user: 'me', agent: true }), ...entries };
  const logins = new Map<number, ReturnType<typeof fakeLogin>>();
  const loginOf = (userId: number) => {
    let login = logins.get(userId);
    if (!login) logins.set(userId, (login = fakeLogin()));
    return login;
  };
  const askedFor: number[] = [];
  const service = createGpuService({
    clusters: {
      names: () => ['lab'],
      config: () => config,
      transport: async (_name, userId) => {
        askedFor.push(userId);
        return loginOf(userId).transport;
      },
    },
    clock: () => now,
  });
  return { service, cluster: loginOf(OWNER), loginOf, askedFor, config, advance: (ms: number) => (now += ms), now: () => now };
}

const a100 = (availability: GpuAvailability) => availability.byType.find((row) => row.type === 'a100');

describe('GPU service: one remote command per cold or expired cluster', () => {
  it('50 concurrent readers of a cold cluster share one exec of the constant script, and all see the same answer', async () => {
    const { service, cluster } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, () => service.availability('lab', OWNER)));
    expect(cluster.execs).toBe(1);
    expect(cluster.argv[0]?.slice(0, 2)).toEqual(['sh', '-c']);
    expect(new Set(results.map((result) => result.fetchedAt.getTime())).size).toBe(1);
    expect(results[0]).toMatchObject({ cluster: 'lab', stale: false, lastError: null, refreshLimitedUntil: null });
    expect(a100(results[49]!)).toEqual({ type: 'a100', total: 4, free: 4, allocated: 0, stranded: 0, pendingDemand: 0 });
  });

  it('a warm cache answers without an exec; after gpuCacheSeconds one exec serves every reader again', async () => {
    const { service, cluster, advance } = setup({ gpuCacheSeconds: 30 });
    const first = await service.availability('lab', OWNER);
    advance(29_000);
    await Promise.all(Array.from({ length: 20 }, () => service.availability('lab', OWNER)));
    expect(cluster.execs).toBe(1);

    cluster.next = answer(BUSY);
    advance(1_001);
    const expired = await Promise.all(Array.from({ length: 50 }, () => service.availability('lab', OWNER)));
    expect(cluster.execs).toBe(2);
    expect(expired.every((result) => result.fetchedAt > first.fetchedAt)).toBe(true);
    expect(a100(expired[0]!)).toMatchObject({ free: 2, allocated: 2, pendingDemand: 4 });
  });
});

describe('GPU service: refresh', () => {
  it('forces one exec, then is limited to one per 10 s per cluster and says until when', async () => {
    const { service, cluster, advance, now } = setup();
    await service.availability('lab', OWNER);
    expect(cluster.execs).toBe(1);

    cluster.next = answer(BUSY);
    const forcedAt = now();
    const refreshed = await service.availability('lab', OWNER, { refresh: true });
    expect(cluster.execs).toBe(2);
    expect(refreshed.refreshLimitedUntil).toBeNull();
    expect(a100(refreshed)?.allocated).toBe(2);

    advance(4_000);
    const limited = await service.availability('lab', OWNER, { refresh: true });
    expect(cluster.execs).toBe(2);
    expect(limited.refreshLimitedUntil).toEqual(new Date(forcedAt + 10_000));
    expect(limited.fetchedAt).toEqual(refreshed.fetchedAt);

    advance(6_000);
    await service.availability('lab', OWNER, { refresh: true });
    expect(cluster.execs).toBe(3);
  });

  it('a burst of refreshes on a warm cluster causes one exec', async () => {
    const { service, cluster } = setup();
    await service.availability('lab', OWNER);
    const results = await Promise.all(Array.from({ length: 20 }, () => service.availability('lab', OWNER, { refresh: true })));
    expect(cluster.execs).toBe(2);
    expect(results.filter((result) => result.refreshLimitedUntil === null)).toHaveLength(1);
  });
});

describe('GPU service: failures', () => {
  it('a failed refresh keeps serving the last good figures, marked stale with the reason, until a read succeeds', async () => {
    const { service, cluster, advance } = setup();
    const good = await service.availability('lab', OWNER);

    cluster.next = () => {
      throw new ClusterUnreachableError('lab', 'connect ECONNREFUSED 127.0.0.1:2222');
    };
    const failed = await Promise.all(Array.from({ length: 10 }, () => service.availability('lab', OWNER, { refresh: true })));
    expect(cluster.execs).toBe(2);
    for (const result of failed) {
      expect(result).toMatchObject({ stale: true, lastError: 'lab: connect ECONNREFUSED 127.0.0.1:2222', fetchedAt: good.fetchedAt });
      expect(result.byType).toEqual(good.byType);
    }
    // Still within the TTL: later readers get the same stale figures without asking the cluster again.
    expect(await service.availability('lab', OWNER)).toMatchObject({ stale: true, fetchedAt: good.fetchedAt });
    expect(cluster.execs).toBe(2);

    // Expired and the cluster still down: one more attempt, still the old figures.
    advance(61_000);
    expect(await service.availability('lab', OWNER)).toMatchObject({ stale: true, fetchedAt: good.fetchedAt });
    expect(cluster.execs).toBe(3);

    cluster.next = answer(BUSY);
    advance(61_000);
    const recovered = await service.availability('lab', OWNER);
    expect(recovered).toMatchObject({ stale: false, lastError: null });
    expect(recovered.fetchedAt > good.fetchedAt).toBe(true);
  });

  it('a cold cluster that cannot be reached rejects every waiting reader with the typed error, after one exec', async () => {
    const { service, cluster } = setup();
    cluster.next = () => {
      throw new CommandTimeoutError('lab: command timed out after 30000 ms');
    };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => service.availability('lab', OWNER)));
    expect(cluster.execs).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(CommandTimeoutError);
    }
    // Nothing was cached: the next reader tries again.
    cluster.next = answer(IDLE);
    expect((await service.availability('lab', OWNER)).stale).toBe(false);
    expect(cluster.execs).toBe(2);
  });

  it('a SLURM failure is a SlurmError carrying its stderr; unexpected output is a SlurmError too', async () => {
    const { service, cluster } = setup();
    cluster.next = answer('', 1, 'slurm_load_node error: Unable to contact slurm controller (connect failure)');
    const error = await service.availability('lab', OWNER).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlurmError);
    expect(error).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('Unable to contact slurm controller') });

    cluster.next = answer('Welcome to the cluster!\n');
    await expect(service.availability('lab', OWNER)).rejects.toBeInstanceOf(SlurmError);
  });

  it('an unknown error from a transport becomes a ClusterUnreachableError', async () => {
    const { service, cluster } = setup();
    cluster.next = () => {
      throw new Error('Not connected');
    };
    await expect(service.availability('lab', OWNER)).rejects.toEqual(new ClusterUnreachableError('lab', 'Not connected'));
  });

  it('an unknown cluster is a NotFoundError and reaches no cluster', async () => {
    const { service, cluster } = setup();
    await expect(service.availability('nope', OWNER)).rejects.toBeInstanceOf(NotFoundError);
    expect(cluster.execs).toBe(0);
  });
});

describe('GPU service: listeners and config', () => {
  it('calls listeners once per successful fetch, not per reader, and never for a failed one', async () => {
    const { service, cluster, advance } = setup();
    const heard: Array<[string, number, GpuAvailability]> = [];
    const unsubscribe = service.subscribe((name, userId, availability) => heard.push([name, userId, availability]));
    service.subscribe(() => {
      throw new Error('a broken listener');
    });

    await Promise.all(Array.from({ length: 10 }, () => service.availability('lab', OWNER)));
    expect(heard).toHaveLength(1);
    expect(heard[0]!.slice(0, 2)).toEqual(['lab', OWNER]);
    expect(heard[0]![2]).toMatchObject({ cluster: 'lab', stale: false, refreshLimitedUntil: null });

    cluster.next = () => {
      throw new ClusterUnreachableError('lab', 'down');
    };
    advance(61_000);
    await service.availability('lab', OWNER);
    expect(heard).toHaveLength(1);

    unsubscribe();
    cluster.next = answer(BUSY);
    await service.availability('lab', OWNER, { refresh: true });
    expect(heard).toHaveLength(1);
  });

  it('applies allowedGpuTypes on every read, so a config edit shows without asking the cluster', async () => {
    const { service, cluster, config } = setup();
    expect((await service.availability('lab', OWNER)).byType.map((row) => row.type)).toEqual(['a100', 'h100']);
    config.allowedGpuTypes = ['h100'];
    const filtered = await service.availability('lab', OWNER);
    expect(filtered.byType.map((row) => row.type)).toEqual(['h100']);
    expect(filtered.nodesWithFreeGpus.map((row) => row.node)).toEqual(['gpu-h100']);
    expect(cluster.execs).toBe(1);
  });

  it('forget drops the cached answer', async () => {
    const { service, cluster } = setup();
    await service.availability('lab', OWNER);
    service.forget('lab');
    await service.availability('lab', OWNER);
    expect(cluster.execs).toBe(2);
  });
});

describe("GPU service: the user's standing rides on the same command", () => {
  const LAB = fixture('cluster-check-lab-standing.txt');
  const sections = LAB.split('--mission-control--\n');
  // A site with fair share and a QOS GPU limit: the lab's recording with hand-made lines (the lab has neither).
  sections[4] = sections[4]!.replace('priority/basic', 'priority/multifactor').replace('AccountingStorageEnforce = none', 'AccountingStorageEnforce = limits');
  sections[5] = 'lab|mlops|0.5\n';
  sections[7] = 'normal|gres/gpu=8|||\n';
  sections[8] = fixture('squeue-own-jobs-gpus.txt');
  const LIMITED = sections.join('--mission-control--\n');

  it('each GPU answer carries it, and standing() reads the cache: no command of its own', async () => {
    const { service, cluster } = setup();
    cluster.next = answer(LIMITED);
    const availability = await service.availability('lab', OWNER);
    const expected = { fairShare: [{ account: 'lab', factor: 0.5 }], gpus: { running: 0, pending: 3 }, gpuLimits: [{ source: 'qos', name: 'normal', scope: 'perUser', gpus: 8, running: 0, pending: 3 }] };
    expect(availability.standing).toEqual(expected);
    expect(await service.standing('lab', OWNER)).toEqual(expected);
    expect(cluster.execs).toBe(1);
  });

  it("is read per login: each user's first read runs one command over their own transport, nobody is shown another's standing, and a read within gpuCacheSeconds runs none", async () => {
    const { service, cluster, loginOf, askedFor, advance, config } = setup();
    const second = loginOf(2);
    cluster.next = answer(LIMITED);
    second.next = answer(LAB);
    const owners = await service.availability('lab', OWNER);
    // The owner's answer is warm, yet user 2's first read asks the cluster again, as user 2.
    const seconds = await service.availability('lab', 2);
    expect(askedFor).toEqual([OWNER, 2]);
    expect([cluster.execs, second.execs]).toEqual([1, 1]);
    const empty = { fairShare: [], gpus: { running: 0, pending: 0 }, gpuLimits: [] };
    expect(owners.standing.fairShare).toEqual([{ account: 'lab', factor: 0.5 }]);
    expect(seconds.standing).toEqual(empty);

    advance(config.gpuCacheSeconds * 1000 - 1);
    expect(await service.standing('lab', 2)).toEqual(empty);
    expect((await service.availability('lab', 2)).fetchedAt).toEqual(seconds.fetchedAt);
    expect((await service.standing('lab', OWNER)).fairShare).toEqual(owners.standing.fairShare);
    expect(askedFor).toEqual([OWNER, 2]);
    expect([cluster.execs, second.execs]).toEqual([1, 1]);
  });

  it('is empty on the lab as recorded, and a cluster that cannot be read throws as partitions() does', async () => {
    const { service, cluster } = setup();
    cluster.next = answer(LAB);
    expect(await service.standing('lab', OWNER)).toEqual({ fairShare: [], gpus: { running: 0, pending: 0 }, gpuLimits: [] });
    await expect(service.standing('nope', OWNER)).rejects.toBeInstanceOf(NotFoundError);
    const down = setup();
    down.cluster.next = answer('', 255, 'ssh: connect to host lab.example.edu port 22: Connection refused');
    await expect(down.service.standing('lab', OWNER)).rejects.toBeInstanceOf(SlurmError);
  });
});
