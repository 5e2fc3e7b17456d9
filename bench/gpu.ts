// GPU availability under 100 concurrent readers, cold and warm cache: remote commands on the lab and latency
// in-process (the service itself, and the same reads through GraphQL with yoga.fetch, no network).
import type { Bench } from './bench.js';
import { percentile } from './bench.js';
import { requireLab } from './lab-server.js';
import { meteredTransport, ms, OWNER_ID } from './support.js';
import { createApp } from '../server/http/app.js';
import { initOrm } from '../server/db/orm.js';
import { createGpuService } from '../server/clusters/gpu.js';
import { createServices } from '../server/services.js';
import { createTransport } from '../server/ssh/index.js';
import { labClusterConfig } from '../test/lab/lab-env.js';

const READERS = 100;
const WARM_ROUNDS = 20;
const WARMUP_ROUNDS = 10;
const P99_GOAL_MS = 5;

const QUERY = `query { gpuAvailability(cluster: "lab") { __typename ... on QueryGpuAvailabilitySuccess { data { fetchedAt stale
  byType { type total free allocated pendingDemand } nodesWithFreeGpus { node type free } } } ... on Error { message } } }`;

/** Starts `count` reads at once; each one's time from its own start to its answer. */
async function concurrently(count: number, read: () => Promise<unknown>): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const started = performance.now();
      await read();
      return performance.now() - started;
    }),
  );
}

const bench: Bench = {
  title: 'GPU availability: 100 concurrent readers, cold and warm cache',
  async run() {
    const lab = requireLab();
    const config = labClusterConfig(lab);
    const metered = meteredTransport(createTransport(config));
    const orm = await initOrm(':memory:');
    const services = createServices({ orm, config: { file: 'bench', clusters: [config] }, clusters: { transportFactory: () => metered.transport } });
    // In-process reads, as the loopback user without a token (server.auth.allowLoopbackWithoutToken).
    const app = createApp({ services, access: { allowWithoutToken: true } });
    try {
      // The server keeps its connection open: open it with a read of a throwaway service, so "cold" means an
      // empty cache, not a new SSH connection.
      await createGpuService({ clusters: services.clusters }).availability('lab', OWNER_ID);
      metered.take();

      const cold = await concurrently(READERS, () => services.gpu.availability('lab', OWNER_ID));
      const coldCommands = metered.take().commands;

      // Rounds first, unmeasured: V8 optimizes the read path only after some hundreds of reads (the first rounds
      // take several ms each), and a running server's is hot; it is the cache that this measures warm.
      for (let round = 0; round < WARMUP_ROUNDS; round++) await concurrently(READERS, () => services.gpu.availability('lab', OWNER_ID));
      const warm: number[] = [];
      const cpuBefore = process.cpuUsage();
      for (let round = 0; round < WARM_ROUNDS; round++) warm.push(...(await concurrently(READERS, () => services.gpu.availability('lab', OWNER_ID))));
      const cpu = process.cpuUsage(cpuBefore);
      const cpuPerReadMs = (cpu.user + cpu.system) / 1000 / (READERS * WARM_ROUNDS);
      const warmCommands = metered.take().commands;

      const graphql: number[] = [];
      for (let round = -WARMUP_ROUNDS; round < WARM_ROUNDS; round++) {
        const times = await concurrently(READERS, async () => {
          const response = await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
          const body = (await response.json()) as { data?: { gpuAvailability: { __typename: string } } };
          if (body.data?.gpuAvailability.__typename !== 'QueryGpuAvailabilitySuccess') throw new Error(`gpuAvailability over GraphQL: ${JSON.stringify(body).slice(0, 300)}`);
        });
        if (round >= 0) graphql.push(...times);
      }
      const graphqlCommands = metered.take().commands;
      const warmP99 = percentile(warm, 99);
      return {
        figures: [
          { label: `remote commands, ${READERS} concurrent readers, cold cache`, value: String(coldCommands), goal: '1', met: coldCommands === 1 },
          { label: `remote commands, ${READERS * WARM_ROUNDS} reads (${WARM_ROUNDS} × ${READERS} concurrent), warm cache`, value: String(warmCommands + graphqlCommands), goal: '0', met: warmCommands + graphqlCommands === 0 },
          { label: 'warm read latency in-process (service), p50 / p99', value: `${ms(percentile(warm, 50))} / ${ms(warmP99)}`, goal: `p99 < ${P99_GOAL_MS} ms`, met: warmP99 < P99_GOAL_MS },
          { label: 'CPU time per warm read (service; independent of other processes)', value: `${(cpuPerReadMs * 1000).toFixed(1)} µs` },
        ],
        tables: [
          {
            columns: ['reads', 'path', 'remote commands', 'p50', 'p99', 'max'],
            rows: [
              [`${READERS} concurrent, cold`, 'service', coldCommands, ms(percentile(cold, 50)), ms(percentile(cold, 99)), ms(Math.max(...cold))],
              [`${WARM_ROUNDS} × ${READERS} concurrent, warm`, 'service', warmCommands, ms(percentile(warm, 50)), ms(warmP99), ms(Math.max(...warm))],
              [`${WARM_ROUNDS} × ${READERS} concurrent, warm`, 'GraphQL (yoga.fetch, in-process)', graphqlCommands, ms(percentile(graphql, 50)), ms(percentile(graphql, 99)), ms(Math.max(...graphql))],
            ],
          },
        ],
        notes: [
          `Each read is timed from its own start, with all readers of a round started at once, so a late reader's time includes waiting behind the others on the one event loop. ${WARMUP_ROUNDS} unmeasured rounds run first on each path (until V8 has optimized it). On a shared 2-core machine a read can also wait for the CPU itself: a time slice lost to another process is several ms.`,
          `A warm read is a lookup: the summary is made once per cached inventory and allowedGpuTypes list (a config edit brings a new list, so it applies at once), ${(cpuPerReadMs * 1000).toFixed(1)} µs of CPU per read here; the last of ${READERS} simultaneous readers waits ${ms(cpuPerReadMs * READERS)} for the others, plus any GC pause or lost time slice.`,
          `Cold: the SSH connection already open (as in the running server), the cache empty; all readers share the one \`scontrol show node\` + \`squeue\` command.`,
        ],
      };
    } finally {
      await services.close();
      await orm.close();
    }
  },
};

export default bench;
