// Starts and ends of jobs within ~2 s, without asking slurmctld: job scripts write one file per event under their
// job directory (config/sbatch.template.sh), and one long-running remote command per cluster, on the connection
// that is already open, prints them once a second. A start is shown at once; an end is shown as COMPLETING with
// its exit code and confirmed by an early poll, since only SLURM may call a job finished (OOM, node failure,
// timeout and cancellation are things a script cannot report). The same command carries the new bytes of the files
// a job writes that a file reader (the metrics domain) asks for, and reads an ended job's files one last time.
import { loginKey, loginOfKey, type ClusterService } from '../clusters/service.js';
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { changeOf, currentRunRequeued, lastRequeue, requeued, saveAndAnnounce, scriptEnded, started } from './transitions.js';
import type { PubSub } from '../events.js';
import type { StreamHandle } from '../ssh/transport.js';
import { readJobFilesOnce, watchJobFiles, type WatchSource } from '../slurm/lifecycle-watch.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import { componentLogger, errorFields } from '../lib/log.js';

const log = componentLogger('lifecycle');

/** A job the watch follows. */
export interface WatchedJob {
  id: number;
  jobDir: string;
  /** Started (its files are being written); a pending job's only news is its start. */
  running: boolean;
  /** Epoch seconds of the current run's earliest possible record (none or 0: no earlier run); see runRecordsAfter. */
  after?: number;
}

/**
 * A requeued job's records of the current run are written from its start on, or after its last requeue while it
 * waits; its earlier runs' records (still in its directory) are older. 0 for a job never requeued: every record counts.
 */
export function runRecordsAfter(job: Pick<Job, 'startedAt' | 'requeues'>): number {
  const last = lastRequeue(job);
  if (!last) return 0;
  return job.startedAt ? Math.floor(new Date(job.startedAt).getTime() / 1000) : Math.floor(Date.parse(last.at) / 1000) + 1;
}

/** A file (or pattern of files) of a job, and how the reader names it. */
export interface JobFileSource {
  jobId: number;
  source: Extract<WatchSource, { kind: 'file' | 'glob' }>;
}

/** Who wants the bytes of jobs' files, and what to do with them (server/metrics/service.ts). */
export interface JobFileReader {
  /** The files and patterns to follow for these jobs (running ones: a pending job writes none), from the offset read so far. */
  sourcesFor(cluster: string, jobs: readonly WatchedJob[]): Promise<JobFileSource[]>;
  /** True when the file must be read again from its start (the reader found it rewritten): the watch restarts. */
  onBytes(jobId: number, path: string, from: number, bytes: Buffer): boolean;
  onRewound(jobId: number, path: string): void;
  /** A file matched a pattern; true when it is new to the reader (the watch then restarts to follow it). */
  onMatch(jobId: number, pattern: string, path: string): boolean;
  /** The jobs were read one last time (they ended): nothing more comes for them. */
  finished(jobIds: readonly number[]): Promise<void>;
}

export interface LifecycleOptions {
  orm: Orm;
  clusters: ClusterService;
  events: PubSub;
  pollNow: (cluster: string) => Promise<void>;
  files?: JobFileReader;
}

interface Watch {
  /** The watch's arguments, to tell whether a restart would change anything. */
  key: string;
  handle: StreamHandle | null;
  seen: Set<string>;
}

export type LifecycleWatcher = ReturnType<typeof createLifecycleWatcher>;

/**
 * An event of a requeued job that belongs to a run before the current one, or ends the run that its own script
 * requeued (the EXIT trap's `finished` after `scontrol requeue`): never the job's start or end.
 */
export function fromEarlierRun(job: Job, event: string, at: Date): boolean {
  const last = lastRequeue(job);
  if (!last) return false;
  if (event === 'finished') return currentRunRequeued(job) || !job.startedAt || at.getTime() < job.startedAt.getTime();
  return at.getTime() <= Date.parse(last.at);
}

/** How long changes to the watched jobs gather before a cluster's watch restarts with them. */
const RESTART_DELAY_MS = 200;
/** An ended job's files are read to their end, a bounded amount a round, at most this many rounds. */
const FINAL_READ_ROUNDS = 8;
/**
 * The watch's arguments are one exec request, which sshd takes up to 256 kB: running jobs come first, then pending
 * ones' events while they fit (beyond, a start is seen by the poll; a few 1,000-task sweeps queued at once).
 */
const MAX_WATCH_ARGUMENT_BYTES = 128 * 1024;

/**
 * A watch runs over one login: each user's jobs are watched by a command of their own account (which alone may read
 * their files), one per (cluster, login), so a key names both.
 */

export function createLifecycleWatcher({ orm, clusters, events, pollNow, files }: LifecycleOptions) {
  /** Per (cluster, login): the jobs with a SLURM id that have not ended. */
  const watched = new Map<string, Map<number, WatchedJob>>();
  const watches = new Map<string, Watch>();
  let stopped = false;
  const subscription = events.subscribe('job:updated');

  async function onEvent(cluster: string, jobDir: string, event: string, fields: string[]): Promise<void> {
    const em = orm.em.fork();
    const job = await em.findOne(Job, { cluster, jobDir });
    if (!job || TERMINAL_STATES.has(job.state)) return;
    const change = changeOf(job);
    const [epoch, host, argument] = fields;
    const at = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
    // A requeued job keeps its directory: the files of a run that ended in a requeue are still there (and read again
    // by a new watch) until the next run rewrites them; they say nothing of the run that is current.
    if (fromEarlierRun(job, event, at)) return;
    if (event === 'started') started(job, at, host ?? null);
    if (event === 'finished') scriptEnded(job, Number.isInteger(Number(argument)) ? Number(argument) : null);
    if (event === 'requeued') requeued(job, at, 'time-limit');
    if (!(await saveAndAnnounce(em, events, [change]))) return;
    if (event === 'finished' || event === 'requeued') {
      // SLURM marks the job done (or back in the queue) a moment after its script says so; ask it now and shortly after.
      for (const delay of [300, 2000, 5000]) setTimeout(() => stopped || void pollNow(cluster), delay).unref();
    }
  }

  const eventsOf = (job: WatchedJob): WatchSource => (job.after ? { kind: 'events', jobDir: job.jobDir, after: job.after } : { kind: 'events', jobDir: job.jobDir });

  /** The sources of a cluster's watch: running jobs' events and files, then pending jobs' events while they fit. */
  async function sourcesOf(cluster: string, jobs: WatchedJob[]) {
    const running = jobs.filter((job) => job.running);
    const fileSources = files ? await files.sourcesFor(cluster, running) : [];
    const sources = [
      ...running.map((job) => ({ jobId: job.id, jobDir: job.jobDir as string | null, source: eventsOf(job) })),
      ...fileSources.map(({ jobId, source }) => ({ jobId, jobDir: null as string | null, source: source as WatchSource })),
    ];
    let bytes = sources.reduce((sum, { source }) => sum + JSON.stringify(source).length, 0);
    for (const job of jobs.filter((candidate) => !candidate.running)) {
      bytes += job.jobDir.length + 16;
      if (bytes > MAX_WATCH_ARGUMENT_BYTES) break;
      sources.push({ jobId: job.id, jobDir: job.jobDir, source: eventsOf(job) });
    }
    return sources;
  }

  function handlersFor(key: string, sources: Awaited<ReturnType<typeof sourcesOf>>, watch: Watch | null) {
    const { cluster } = loginOfKey(key);
    const path = (index: number) => {
      const source = sources[index]!.source;
      return source.kind === 'file' ? source.path : source.kind === 'glob' ? source.pattern : '';
    };
    return {
      onEvent: (index: number, event: string, fields: string[]) => {
        const { jobDir } = sources[index]!;
        // By its time too: a requeued job's next run rewrites the same file, which is news again.
        const key = `${jobDir}\n${event} ${fields[0] ?? ''}`;
        if (!jobDir || !watch || watch.seen.has(key)) return;
        watch.seen.add(key);
        void onEvent(cluster, jobDir, event, fields).catch((error: unknown) => log.error({ cluster, jobDir, event, ...errorFields(error) }, 'lifecycle event not applied'));
      },
      onBytes: (index: number, from: number, bytes: Buffer) => {
        if (files?.onBytes(sources[index]!.jobId, path(index), from, bytes)) scheduleRestart(key);
      },
      onRewound: (index: number) => files?.onRewound(sources[index]!.jobId, path(index)),
      onMatch: (index: number, match: string) => {
        if (files?.onMatch(sources[index]!.jobId, path(index), match)) scheduleRestart(key);
      },
    };
  }

  async function restart(login: string): Promise<void> {
    const { cluster, userId } = loginOfKey(login);
    const jobs = [...(watched.get(login)?.values() ?? [])].sort((a, b) => a.jobDir.localeCompare(b.jobDir));
    const sources = jobs.length === 0 || stopped ? [] : await sourcesOf(cluster, jobs);
    const key = JSON.stringify(sources.map(({ source }) => source));
    const current = watches.get(login);
    if (current && current.key === key) return;
    current?.handle?.stop();
    if (sources.length === 0 || stopped) {
      watches.delete(login);
      return;
    }
    // Events already handled are remembered for the jobs still watched only: the set would otherwise grow by two
    // entries for every job the server ever followed.
    const watchedDirs = new Set(jobs.map((job) => job.jobDir));
    const seen = new Set([...(current?.seen ?? [])].filter((entry) => watchedDirs.has(entry.slice(0, entry.indexOf('\n')))));
    const watch: Watch = { key, handle: null, seen };
    watches.set(login, watch);
    clusters
      .transport(cluster, userId)
      .then((transport) => watchJobFiles(transport, sources.map(({ source }) => source), handlersFor(login, sources, watch)))
      .then((handle) => {
        if (watches.get(login) !== watch) return handle.stop();
        watch.handle = handle;
        // A dropped connection ends the watch; the poller keeps the truth meanwhile, and the next change restarts it.
        void handle.done.then(() => {
          if (watches.get(login) === watch) {
            watches.delete(login);
            setTimeout(() => scheduleRestart(login), 5000).unref();
          }
        });
      })
      .catch(() => {
        if (watches.get(login) === watch) watches.delete(login);
        setTimeout(() => scheduleRestart(login), 5000).unref();
      });
  }

  /** The files of jobs that ended, read to their end (a bounded amount a round): one remote command per round. */
  async function readEnded(login: string, jobs: WatchedJob[]): Promise<void> {
    if (!files || jobs.length === 0) return;
    const { cluster, userId } = loginOfKey(login);
    for (let round = 0; round < FINAL_READ_ROUNDS; round++) {
      const sources = await files.sourcesFor(cluster, jobs);
      if (sources.length === 0) break;
      let more = false;
      let matched = false;
      const handlers = handlersFor(login, sources.map(({ jobId, source }) => ({ jobId, jobDir: null, source: source as WatchSource })), null);
      await readJobFilesOnce(await clusters.transport(cluster, userId), sources.map(({ source }) => source), {
        onBytes: (index, from, bytes) => {
          more ||= bytes.length > 0;
          handlers.onBytes(index, from, bytes);
        },
        onRewound: handlers.onRewound,
        onMatch: (index, match) => {
          matched ||= files.onMatch(sources[index]!.jobId, (sources[index]!.source as { pattern: string }).pattern, match);
        },
      });
      if (!more && !matched) break;
    }
    await files.finished(jobs.map((job) => job.id));
  }

  /** Logins whose watched set changed, restarted together shortly after: a sweep's tasks change in bursts of hundreds. */
  const dueRestarts = new Set<string>();
  /** Per login, jobs that ended since the last restart, read one last time then. */
  const ended = new Map<string, WatchedJob[]>();
  let restartTimer: NodeJS.Timeout | null = null;

  function scheduleRestart(login: string): void {
    if (stopped) return;
    dueRestarts.add(login);
    restartTimer ??= setTimeout(() => {
      restartTimer = null;
      for (const due of dueRestarts) {
        const endedHere = ended.get(due) ?? [];
        ended.delete(due);
        void restart(due)
          .then(() => readEnded(due, endedHere))
          .catch((error: unknown) => log.warn({ ...loginOfKey(due), ...errorFields(error) }, 'lifecycle watch not restarted'));
      }
      dueRestarts.clear();
    }, RESTART_DELAY_MS);
  }

  function track(job: { id: number; cluster: string; userId: number; jobDir: string; state: string; slurmJobId?: string | null; startedAt?: Date | null; requeues?: Job['requeues'] }): void {
    const login = loginKey(job.cluster, job.userId);
    let jobs = watched.get(login);
    if (!jobs) watched.set(login, (jobs = new Map()));
    const active = Boolean(job.slurmJobId) && !TERMINAL_STATES.has(job.state as never);
    const running = job.state === 'RUNNING' || job.state === 'COMPLETING';
    const after = runRecordsAfter({ startedAt: job.startedAt ?? null, requeues: job.requeues ?? [] });
    const before = jobs.get(job.id);
    if (active && before?.running === running && before.after === after) return;
    if (!active && !before) return;
    if (active) jobs.set(job.id, { id: job.id, jobDir: job.jobDir, running, after });
    else {
      jobs.delete(job.id);
      ended.set(login, [...(ended.get(login) ?? []), { id: job.id, jobDir: job.jobDir, running: false }]);
    }
    scheduleRestart(login);
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
