// GPU availability against the lab through its real sshd: one remote command however many readers, figures that
// match the lab (gpu-a100 with 4×a100, gpu-h100 with 2×h100), and a GPU job of our own seen after a refresh; the
// user's standing (fair share, GPU limits, own GPUs) riding on the same command.
// Other suites may run GPU jobs on the lab at the same time, so allocations are compared, never assumed to be zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import type { ClusterConfig } from '../../server/config.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { createGpuService, type GpuAvailability } from '../../server/clusters/gpu.js';
import { createServices, type Services } from '../../server/services.js';
import { gpuAvailabilityCommand, parseGpuRequest } from '../../server/slurm/gpu.js';
import { createTransport, type StreamingTransport } from '../../server/ssh/index.js';
import { authHeaders, createTestToken } from '../graphql-client.js';
import { labClusterConfig, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab GPU availability suite');

const GPU_SCRIPT = gpuAvailabilityCommand()[2];

/** Counts the GPU command among everything a transport runs (other services share it). */
function countingTransport(inner: StreamingTransport) {
  const counter = { gpuExecs: 0 };
  const transport: StreamingTransport = {
    exec(argv, options) {
      if (argv[2] === GPU_SCRIPT) counter.gpuExecs++;
      return inner.exec(argv, options);
    },
    stream: (argv, options) => inner.stream(argv, options),
    close: () => inner.close(),
  };
  return { transport, counter };
}

const typeRow = (availability: GpuAvailability, type: string) => availability.byType.find((row) => row.type === type);
/** GPUs of a type the lab has, wherever they are: on nodes that take jobs or on nodes out of service. */
const labGpus = (availability: GpuAvailability, type: string, node: string) =>
  (typeRow(availability, type)?.total ?? 0) + availability.unavailableNodes.filter((row) => row.node === node).reduce((sum, row) => sum + row.gpus, 0);

describe.skipIf(!lab)('GPU availability on the lab', () => {
  describe('over GraphQL, as the app serves it', () => {
    let orm: Orm;
    let services: Services;
    let app: ReturnType<typeof createApp>;
    let counter: { gpuExecs: number };
    let token: string;

    beforeAll(async () => {
      orm = await initOrm(':memory:');
      services = createServices({
        orm,
        config: { file: 'lab.yaml', clusters: [labClusterConfig(lab!)] },
        clusters: {
          transportFactory: (cluster) => {
            const counting = countingTransport(createTransport(cluster));
            counter = counting.counter;
            return counting.transport;
          },
        },
      });
      app = createApp({ services });
      token = await createTestToken(services);
    });
    afterAll(async () => {
      await services?.close();
      await orm?.close();
    });

    async function graphql(query: string, variables?: Record<string, unknown>) {
      const response = await app.yoga.fetch('http://mc.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify({ query, variables }) });
      return (await response.json()) as { data?: any; errors?: unknown };
    }

    it('50 concurrent reads of a cold cluster cause exactly one remote command, and show 4 a100 and 2 h100', async () => {
      const query = `query($cluster: String!) { gpuAvailability(cluster: $cluster) { __typename
        ... on QueryGpuAvailabilitySuccess { data { cluster fetchedAt stale refreshLimitedUntil
          byType { type total free allocated stranded pendingDemand }
          byPartition { partition type total free allocated pendingDemand }
          nodesWithFreeGpus { node type free partitions } unavailableNodes { node state reason gpus } } }
        ... on Error { message } } }`;
      const answers = await Promise.all(Array.from({ length: 50 }, () => graphql(query, { cluster: 'lab' })));
      for (const answer of answers) expect(answer.errors).toBeUndefined();
      expect(counter.gpuExecs).toBe(1);
      const results = answers.map((answer) => answer.data.gpuAvailability);
      expect(results.every((result) => result.__typename === 'QueryGpuAvailabilitySuccess')).toBe(true);
      expect(new Set(results.map((result) => result.data.fetchedAt)).size).toBe(1);

      const availability: GpuAvailability = results[0].data;
      expect(availability).toMatchObject({ cluster: 'lab', stale: false, refreshLimitedUntil: null });
      expect(labGpus(availability, 'a100', 'gpu-a100')).toBe(4);
      expect(labGpus(availability, 'h100', 'gpu-h100')).toBe(2);
      expect(availability.byType.map((row) => row.type).filter((type) => type !== 'any')).toEqual(['a100', 'h100']);
      for (const row of availability.byType) expect(row.free + row.allocated + row.stranded).toBe(row.total);
      // cpu-01 has no GPUs: it appears nowhere, and only the gpu partition has GPUs.
      expect(availability.nodesWithFreeGpus.every((row) => row.node !== 'cpu-01' && row.partitions.includes('gpu'))).toBe(true);
      expect(availability.byPartition.filter((row) => row.total > 0).map((row) => row.partition)).toEqual(['gpu', 'gpu']);

      const missing = await graphql(query, { cluster: 'nope' });
      expect(missing.data.gpuAvailability).toMatchObject({ __typename: 'NotFoundError' });
      expect(counter.gpuExecs).toBe(1);
    });

    it("the user's standing arrives with the GPUs and on the cluster, read by the same one command: our held a100×2 job pending, no fair share (priority/basic) and no limit (none enforced)", async () => {
      const submitted = onLab(lab!, "sbatch --parsable --hold -J mc-standing-lab --mem=100M --time=2 --gres=gpu:a100:2 --wrap='true'");
      expect(submitted.status).toBe(0);
      const job = submitted.stdout.trim().split(';')[0]!;
      try {
        /** GPUs our user's pending jobs ask for, as squeue -u prints them (other suites run as the same user). */
        const pendingByUser = () =>
          onLab(lab!, `squeue -h -r -u "$(id -un)" -t PD -O 'tres-alloc:|'`)
            .stdout.split('\n')
            .map((line) => /gres\/gpu=(\d+)/.exec(line)?.[1])
            .reduce((sum, gpus) => sum + Number(gpus ?? 0), 0);
        const standingFields = 'standing { fairShare { account factor } gpusRunning gpusPending gpuLimits { source name scope gpus running pending } }';
        const execsBefore = counter.gpuExecs;
        const before = pendingByUser();
        const refreshed = await graphql(`query { gpuAvailability(cluster: "lab", refresh: true) { ... on QueryGpuAvailabilitySuccess { data { ${standingFields} } } ... on Error { message } } }`);
        const after = pendingByUser();
        expect(refreshed.errors).toBeUndefined();
        const viaGpus = refreshed.data.gpuAvailability.data.standing;
        expect(viaGpus).toMatchObject({ fairShare: [], gpuLimits: [] });
        expect(viaGpus.gpusPending).toBeGreaterThanOrEqual(2);
        // Unless another suite's pending jobs came or went meanwhile, the figure is squeue's to the GPU.
        if (before === after) expect(viaGpus.gpusPending).toBe(after);

        const clusters = await graphql(`query { clusters { name ${standingFields} } }`);
        expect(clusters.errors).toBeUndefined();
        expect(clusters.data.clusters).toEqual([{ name: 'lab', standing: viaGpus }]);
        // The refresh was the one command; the cluster's standing came from its cache.
        expect(counter.gpuExecs).toBe(execsBefore + 1);
        // And in it, nothing was asked of sshare or slurmdbd whose answer the lab's config makes meaningless.
        const sections = onLab(lab!, GPU_SCRIPT!).stdout.split('--mission-control--\n');
        expect(sections.slice(5, 8)).toEqual(['', '', '']);
      } finally {
        onLab(lab!, `scancel ${job}`);
      }
    });
  });

  describe('the service on the real ssh2 transport, with a GPU job of our own', () => {
    let transport: StreamingTransport;
    let counter: { gpuExecs: number };
    let config: ClusterConfig;
    const ourJobs: string[] = [];

    beforeAll(() => {
      config = labClusterConfig(lab!);
      ({ transport, counter } = countingTransport(createTransport(config)));
    });
    afterAll(async () => {
      if (ourJobs.length > 0) onLab(lab!, `scancel ${ourJobs.join(' ')}`);
      await transport?.close();
    });

    const service = () => createGpuService({ clusters: { names: () => ['lab'], config: () => config, transport: async () => transport } });

    function submit(args: string): string {
      const result = onLab(lab!, `sbatch --parsable -J mc-gpu-lab --mem=100M --time=2 ${args}`);
      expect(result.status).toBe(0);
      const id = result.stdout.trim().split(';')[0]!;
      ourJobs.push(id);
      return id;
    }

    /** a100 GPUs held by running jobs other than ours, as squeue sees them. */
    function othersRunningA100(): number {
      const lines = onLab(lab!, "squeue -h -t R -w gpu-a100 -o '%i|%b'").stdout.split('\n').filter(Boolean);
      return lines
        .map((line) => line.split('|'))
        .filter(([id]) => !ourJobs.includes(id!))
        .flatMap(([, tres]) => parseGpuRequest(tres ?? ''))
        .filter((request) => request.type === 'a100')
        .reduce((sum, request) => sum + request.count, 0);
    }

    it('sees our running a100×2 job and our pending a100×4 request after a refresh; a second refresh is rate-limited', async () => {
      const gpu = service();
      const othersBefore = othersRunningA100();
      const before = await gpu.availability('lab', 1);
      expect(counter.gpuExecs).toBe(1);

      const running = submit("--gres=gpu:a100:2 --wrap='sleep 30'");
      // Held, so it stays pending and asks for nothing in the meantime.
      submit("--hold --gres=gpu:a100:4 --wrap='true'");
      await expect
        .poll(() => onLab(lab!, `squeue -h -j ${running} -o %T`).stdout.trim(), { timeout: 60_000, interval: 500 })
        .toBe('RUNNING');

      const after = await gpu.availability('lab', 1, { refresh: true });
      const othersAfter = othersRunningA100();
      expect(counter.gpuExecs).toBe(2);
      expect(after).toMatchObject({ stale: false, refreshLimitedUntil: null });
      expect(after.fetchedAt.getTime()).toBeGreaterThan(before.fetchedAt.getTime());

      const a100Before = typeRow(before, 'a100')!;
      const a100After = typeRow(after, 'a100')!;
      expect(a100After.allocated).toBeGreaterThanOrEqual(2);
      expect(a100After.pendingDemand).toBeGreaterThanOrEqual(a100Before.pendingDemand + 4);
      // With no other a100 job starting or ending meanwhile, the difference is exactly ours.
      if (othersBefore === othersAfter) expect(a100After.allocated - a100Before.allocated).toBe(2);
      // Our own jobs in the user's standing, from the same command: the running 2 held, the held 4 asked.
      expect(after.standing.gpus.running).toBeGreaterThanOrEqual(2);
      expect(after.standing.gpus.pending).toBeGreaterThanOrEqual(4);

      const again = await gpu.availability('lab', 1, { refresh: true });
      expect(counter.gpuExecs).toBe(2);
      expect(again.refreshLimitedUntil).not.toBeNull();
      expect(again.refreshLimitedUntil!.getTime()).toBeGreaterThan(Date.now());
      expect(again.fetchedAt).toEqual(after.fetchedAt);
    });
  });
});
