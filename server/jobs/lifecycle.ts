// Starts and ends of jobs within ~2 s, without asking slurmctld: job scripts write one file per event under their
// job directory (config/sbatch.template.sh), and one long-running remote command per cluster, on the connection
// that is already open, prints them once a second. A start is shown at once; an end is shown as COMPLETING with
// its exit code and confirmed by an early poll, since only SLURM may call a job finished (OOM, node failure,
// timeout and cancellation are things a script cannot report).
import type { ClusterService } from '../clusters/service.js';
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { changeOf, saveAndAnnounce, scriptEnded, started } from './transitions.js';
import type { PubSub } from '../events.js';
import type { StreamHandle } from '../ssh/transport.js';
import { watchLifecycleEvents } from '../slurm/lifecycle-watch.js';
import { TERMINAL_STATES } from '../slurm/state.js';

export interface LifecycleOptions {
  orm: Orm;
  clusters: ClusterService;
  events: PubSub;
  pollNow: (cluster: string) => Promise<void>;
}

interface Watch {
  jobDirs: string[];
  handle: StreamHandle | null;
  seen: Set<string>;
}

export type LifecycleWatcher = ReturnType<typeof createLifecycleWatcher>;

/** How long changes to the watched jobs gather before a cluster's watch restarts with them. */
const RESTART_DELAY_MS = 200;

export function createLifecycleWatcher({ orm, clusters, events, pollNow }: LifecycleOptions) {
  /** Per cluster: the job directories of jobs with a SLURM id that have not ended. */
  const watched = new Map<string, Map<number, string>>();
  const watches = new Map<string, Watch>();
  let stopped = false;
  const subscription = events.subscribe('job:updated');

  async function onEvent(cluster: string, jobDir: string, event: string, fields: string[]): Promise<void> {
    const em = orm.em.fork();
    const job = await em.findOne(Job, { cluster, jobDir });
    if (!job || TERMINAL_STATES.has(job.state)) return;
    const change = changeOf(job);
    const [epoch, host, argument] = fields;
    if (event === 'started') started(job, epoch ? new Date(Number(epoch) * 1000) : new Date(), host ?? null);
    if (event === 'finished') scriptEnded(job, Number.isInteger(Number(argument)) ? Number(argument) : null);
    if (!(await saveAndAnnounce(em, events, [change]))) return;
    if (event === 'finished') {
      // SLURM marks the job done a moment after its script exits; ask it now and once more shortly after.
      for (const delay of [300, 2000, 5000]) setTimeout(() => stopped || void pollNow(cluster), delay).unref();
    }
  }

  function restart(cluster: string): void {
    const jobDirs = [...(watched.get(cluster)?.values() ?? [])].sort();
    const current = watches.get(cluster);
    if (current && current.jobDirs.join('\n') === jobDirs.join('\n')) return;
    current?.handle?.stop();
    if (jobDirs.length === 0 || stopped) {
      watches.delete(cluster);
      return;
    }
    // Events already handled are remembered for the jobs still watched only: the set would otherwise grow by two
    // entries for every job the server ever followed.
    const watchedDirs = new Set(jobDirs);
    const seen = new Set([...(current?.seen ?? [])].filter((key) => watchedDirs.has(key.slice(0, key.lastIndexOf(' ')))));
    const watch: Watch = { jobDirs, handle: null, seen };
    watches.set(cluster, watch);
    watchLifecycleEvents(clusters.transport(cluster), jobDirs, ({ jobDir, event, fields }) => {
      if (watch.seen.has(`${jobDir} ${event}`)) return;
      watch.seen.add(`${jobDir} ${event}`);
      void onEvent(cluster, jobDir, event, fields).catch((error: unknown) => console.error(`lifecycle event of ${jobDir}: ${(error as Error).message}`));
    })
      .then((handle) => {
        if (watches.get(cluster) !== watch) return handle.stop();
        watch.handle = handle;
        // A dropped connection ends the watch; the poller keeps the truth meanwhile, and the next change restarts it.
        void handle.done.then(() => {
          if (watches.get(cluster) === watch) {
            watches.delete(cluster);
            setTimeout(() => restart(cluster), 5000).unref();
          }
        });
      })
      .catch(() => {
        if (watches.get(cluster) === watch) watches.delete(cluster);
        setTimeout(() => restart(cluster), 5000).unref();
      });
  }

  /** Clusters whose watched set changed, restarted together shortly after: a sweep's tasks change in bursts of hundreds. */
  const dueRestarts = new Set<string>();
  let restartTimer: NodeJS.Timeout | null = null;

  function track(job: { id: number; cluster: string; jobDir: string; state: string; slurmJobId?: string | null }): void {
    let jobs = watched.get(job.cluster);
    if (!jobs) watched.set(job.cluster, (jobs = new Map()));
    const active = Boolean(job.slurmJobId) && !TERMINAL_STATES.has(job.state as never);
    if (active === jobs.has(job.id)) return;
    if (active) jobs.set(job.id, job.jobDir);
    else jobs.delete(job.id);
    dueRestarts.add(job.cluster);
    restartTimer ??= setTimeout(() => {
      restartTimer = null;
      for (const cluster of dueRestarts) restart(cluster);
      dueRestarts.clear();
    }, RESTART_DELAY_MS);
  }

  return {
    async start(): Promise<void> {
      const jobs = await orm.em.fork().find(Job, { state: { $nin: [...TERMINAL_STATES] }, slurmJobId: { $ne: null } });
      for (const job of jobs) track(job);
      void (async () => {
        for await (const job of subscription) track(job);
      })();
    },
    stop(): void {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      void subscription.return?.();
      for (const watch of watches.values()) watch.handle?.stop();
      watches.clear();
    },
  };
}
