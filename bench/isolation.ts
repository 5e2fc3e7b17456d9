// Fault isolation: the lab under two names plus a cluster behind a TCP listener that accepts and never answers.
// How long after a poll tick the healthy clusters' job updates are published, with and without the hung cluster
// — by the real poller, and by the original's sequential loop (one cluster after the other, a new connection each).
import { createServer, type Socket } from 'node:net';
import type { Bench } from './bench.js';
import { requireLab } from './lab-server.js';
import { createJobRow, labRun, median, ms, OWNER_ID, RUN_ID, seconds, sleep } from './support.js';
import type { ClusterConfig } from '../server/config.js';
import { initOrm } from '../server/db/orm.js';
import { createServices } from '../server/services.js';
import { pollJobs } from '../server/slurm/poll.js';
import { TERMINAL_STATES } from '../server/slurm/state.js';
import { createTransport } from '../server/ssh/index.js';
import { labClusterConfig } from '../test/lab/lab-env.js';

const JOBS_PER_CLUSTER = 4;
const REPEATS = 3;
const JOB_NAME = `${RUN_ID}-iso`;
/** "The same within noise": at most 20 % or 200 ms later, whichever is larger. */
const within = (healthy: number, withHung: number) => withHung <= healthy + Math.max(0.2 * healthy, 200);

/** Real poller: one tick, until every healthy cluster's jobs were published as ended. */
async function pollerRun(clusters: ClusterConfig[], jobIds: Record<string, string[]>) {
  const orm = await initOrm(':memory:');
  const services = createServices({ orm, config: { file: 'bench', clusters } });
  let hungError: string | null = null;
  const recordPoll = services.clusters.recordPoll;
  services.clusters.recordPoll = (name, userId, record) => {
    if (name === 'hung') hungError = record.error;
    recordPoll(name, userId, record);
  };
  const em = orm.em.fork();
  const healthy = new Set<number>();
  for (const cluster of clusters) {
    for (const slurmJobId of jobIds[cluster.name]!) {
      // Recorded as pending; SLURM has them finished, so the tick has news to publish.
      const job = createJobRow(em, { cluster: cluster.name, state: 'PENDING', slurmJobId });
      await em.flush();
      if (cluster.name !== 'hung') healthy.add(job.id);
    }
  }
  // The running server has its connections open (and the hung cluster's attempt pending).
  await Promise.all(clusters.filter((cluster) => cluster.name !== 'hung').map((cluster) => services.clusters.testConnection(cluster.name, OWNER_ID)));
  const published = new Map<number, number>();
  const subscription = services.events.subscribe('job:updated');
  const listening = (async () => {
    for await (const job of subscription) {
      if (healthy.has(job.id) && TERMINAL_STATES.has(job.state) && !published.has(job.id)) published.set(job.id, performance.now());
      if (published.size === healthy.size) break;
    }
  })();
  const started = performance.now();
  services.poller.tick();
  const deadline = setTimeout(() => void subscription.return?.(), 60_000);
  await listening;
  clearTimeout(deadline);
  if (published.size !== healthy.size) throw new Error(`only ${published.size} of ${healthy.size} healthy jobs were published within 60 s`);
  const elapsed = Math.max(...published.values()) - started;
  // Closing waits for the hung cluster's poll to give up (its connect timeout).
  await services.close();
  await orm.close();
  return { elapsed, hungError: hungError as string | null };
}

/** The original's loop: one cluster after the other, a new connection for each, every cycle. */
async function sequentialRun(clusters: ClusterConfig[], jobIds: Record<string, string[]>) {
  const started = performance.now();
  let lastHealthy = 0;
  for (const cluster of clusters) {
    const transport = createTransport(cluster);
    try {
      const result = await pollJobs(transport, jobIds[cluster.name]!);
      if (result.finished.length + result.queue.length === 0) throw new Error(`${cluster.name}: no job seen`);
      lastHealthy = performance.now();
    } catch (error) {
      if (cluster.name !== 'hung') throw error;
    } finally {
      await transport.close();
    }
  }
  return lastHealthy - started;
}

const bench: Bench = {
  title: 'Fault isolation: healthy clusters beside one that never answers',
  async run() {
    const lab = requireLab();
    const sockets: Socket[] = [];
    // Accepts connections and never says a word: what a hung login node looks like.
    const blackHole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const lab1 = labClusterConfig(lab);
    const lab2 = { ...labClusterConfig(lab), name: 'lab2' };
    const hung = { ...labClusterConfig(lab), name: 'hung', port: (blackHole.address() as { port: number }).port };
    const healthyOnly = [lab1, lab2];
    // The hung cluster between the two healthy ones: the original's loop reaches lab2 only after it.
    const withHung = [lab1, hung, lab2];
    const results = { poller: { healthy: [] as number[], hung: [] as number[] }, sequential: { healthy: [] as number[], hung: [] as number[] } };
    let hungError: string | null = null;
    try {
      const ids = (
        await labRun(lab, `for i in $(seq 1 ${2 * JOBS_PER_CLUSTER}); do sbatch --parsable -J ${JOB_NAME} -p cpu --mem=10M --time=1 -o /dev/null --wrap=true || exit 1; done`)
      )
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(';')[0]!);
      for (let waited = 0; (await labRun(lab, `squeue -h -o %i -j ${ids.join(',')} 2>/dev/null || true`)).trim(); waited += 1000) {
        if (waited > 120_000) throw new Error('the benchmark\'s jobs did not finish within 2 minutes');
        await sleep(1000);
      }
      const jobIds = { lab: ids.slice(0, JOBS_PER_CLUSTER), lab2: ids.slice(JOBS_PER_CLUSTER), hung: ['1', '2', '3', '4'] };

      for (let repeat = 0; repeat < REPEATS; repeat++) {
        results.poller.healthy.push((await pollerRun(healthyOnly, jobIds)).elapsed);
        const run = await pollerRun(withHung, jobIds);
        results.poller.hung.push(run.elapsed);
        hungError = run.hungError ?? hungError;
        results.sequential.healthy.push(await sequentialRun(healthyOnly, jobIds));
        // It waits out the hung cluster's connect timeout every time: once is enough to show it.
        if (repeat === 0) results.sequential.hung.push(await sequentialRun(withHung, jobIds));
      }
    } finally {
      await labRun(lab, `scancel -u ${lab.user} -n ${JOB_NAME}`).catch(() => undefined);
      sockets.forEach((socket) => socket.destroy());
      blackHole.close();
    }
    const poller = { healthy: median(results.poller.healthy), hung: median(results.poller.hung) };
    const sequential = { healthy: median(results.sequential.healthy), hung: median(results.sequential.hung) };
    const list = (values: number[]) => values.map((value) => ms(value)).join(', ');
    return {
      figures: [
        {
          label: 'ours (real poller): healthy clusters published, with a hung cluster vs all healthy (median)',
          value: `${ms(poller.hung)} vs ${ms(poller.healthy)} (${(poller.hung / poller.healthy).toFixed(2)}×)`,
          goal: 'the same within noise (≤ +20 % or +200 ms)',
          met: within(poller.healthy, poller.hung),
        },
        {
          label: "the original's sequential loop: with a hung cluster vs all healthy (median)",
          value: `${seconds(sequential.hung)} vs ${ms(sequential.healthy)} (+${seconds(sequential.hung - sequential.healthy)})`,
        },
      ],
      tables: [
        {
          columns: ['who', 'clusters', "healthy clusters' updates published after the tick (median)", 'each run'],
          rows: [
            ['ours: real poller', 'lab, lab2', ms(poller.healthy), list(results.poller.healthy)],
            ['ours: real poller', 'lab, hung, lab2', ms(poller.hung), list(results.poller.hung)],
            ["original's loop", 'lab, lab2', ms(sequential.healthy), list(results.sequential.healthy)],
            ["original's loop", 'lab, hung, lab2', seconds(sequential.hung), list(results.sequential.hung)],
          ],
        },
      ],
      notes: [
        `Each healthy cluster tracks ${JOBS_PER_CLUSTER} real lab jobs that have finished while recorded as pending, so the tick has an update to publish for each; the time is from poller.tick() to the last healthy job's jobUpdated event (the events the subscriptions read). Connections of the healthy clusters are open, as in a running server.`,
        `"hung" is a TCP listener that accepts and never answers, with the default connectTimeoutMs (10 s); its poll ended with: ${hungError ?? '(no error recorded)'}.`,
        `The original's loop is run for real (our one-command poll per cluster, a new connection each, one cluster after the other), so it shows only the cost of the sequence.`,
      ],
    };
  },
};

export default bench;
