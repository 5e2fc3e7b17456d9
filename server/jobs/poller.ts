// Keeps every tracked job's state true to SLURM. A croner tick each second starts the polls that are due; each
// cluster is polled on its own (parallel, own error boundary and timeout), with ONE remote command per login per
// poll (on a group server each user's jobs are asked about over their own login), none for a login with no active
// job. Polls back off while nothing changes; a failing login keeps its jobs' last known state, marked stale, and
// backs off with jitter on its own. Lifecycle files written by job scripts (see
// server/jobs/lifecycle.ts) bring starts and ends in between, and ask for an early poll to confirm them.
import type { EntityManager } from '@mikro-orm/knex';
import { Cron } from 'croner';
import type { ClusterService } from '../clusters/service.js';
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { ReauthRequiredError } from '../errors.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { adopted, changeOf, lost, reportedBySlurm, saveAndAnnounce } from './transitions.js';
import type { PubSub } from '../events.js';
import { isOurWorkDir, jobPaths, submissionDirOf } from '../slurm/layout.js';
import { arrayJobIdOf } from '../slurm/arrays.js';
import { pollJobs, statusIndex, statusLookup, type PollResult, type StatusIndex } from '../slurm/poll.js';
import { TERMINAL_STATES, type SlurmJobStatus } from '../slurm/state.js';

export interface PollerOptions {
  orm: Orm;
  clusters: ClusterService;
  events: PubSub;
  random?: () => number;
  /** Told of each poll that asked the cluster (the metrics' poll duration). */
  onPolled?: (record: { cluster: string; durationMs: number; ok: boolean }) => void;
  /** Asked before each poll: false on a replica that does not lead (server/db/leader-lock.ts). Without it, always. */
  fence?: () => Promise<boolean>;
}

interface ClusterSchedule {
  nextPollAt: number;
  intervalMs: number;
  inFlight: Promise<void> | null;
  /** A poll to run once the one in flight ends, for callers that need an answer newer than their call. */
  followUp: Promise<void> | null;
  /** Per user, what their login's polls left. */
  logins: Map<number, LoginPolls>;
}

interface LoginPolls {
  /** Jobs in the queue that Mission Control did not submit, shown read-only to the login's user. */
  externalJobs: SlurmJobStatus[];
  /** The last poll failed: the next failure is logged at debug, not warned of again. */
  failing: boolean;
  /** A failing login is asked again only from then on (its own backoff: the cluster's other logins go on). */
  retryAt: number;
  /** Its backoff, grown by each failure in a row. */
  retryMs: number;
}

const MAX_BACKOFF = 10;

export type Poller = ReturnType<typeof createPoller>;

/** How long after its end a job that ended without an exit code is still asked about. */
const EXIT_CODE_WAIT_MS = 10 * 60_000;

interface PollAnswer extends Omit<PollResult, 'finished'> {
  statusOf: (slurmJobId: string) => SlurmJobStatus | undefined;
  finished: StatusIndex;
}

/** What one poll says about one job, by the poll's rule, through the job's named transitions. */
function applyPoll(job: Job, answer: PollAnswer): void {
  if (TERMINAL_STATES.has(job.state)) {
    // Ended already: only accounting's final word (with the exit code) is news; never "unknown" meanwhile.
    const status = answer.finished.get(job.slurmJobId!);
    if (status && TERMINAL_STATES.has(status.state) && status.exitCode !== null) reportedBySlurm(job, status);
    return;
  }
  if (!job.slurmJobId) {
    // A launch whose sbatch answer was lost: its tag is in the working directory the queue shows (for a sweep's
    // task, its array's: any of the array's lines names the array).
    const workDir = jobPaths(submissionDirOf(job.jobDir) ?? job.jobDir).code;
    const found = answer.queue.find((status) => status.workDir === workDir);
    if (!found) return;
    adopted(job, job.arrayIndex === null ? found.slurmJobId : `${arrayJobIdOf(found.slurmJobId)}_${job.arrayIndex}`);
  }
  let status: SlurmJobStatus | undefined;
  try {
    status = answer.statusOf(job.slurmJobId!);
  } catch (error) {
    // Accounting failed this time: the job keeps its last known state until it answers.
    if (error === answer.accountingError) return;
    throw error;
  }
  if (status) reportedBySlurm(job, status);
  else lost(job);
}

const log = componentLogger('poller');

export function createPoller({ orm, clusters, events, random = Math.random, onPolled, fence }: PollerOptions) {
  const schedules = new Map<string, ClusterSchedule>();
  let cron: Cron | null = null;
  // Once stopped, late callers (a lifecycle timer, a resolver finishing) start no poll on a closing database.
  let stopped = false;

  function schedule(cluster: string): ClusterSchedule {
    let entry = schedules.get(cluster);
    if (!entry) {
      entry = { nextPollAt: 0, intervalMs: clusters.config(cluster).pollIntervalSeconds * 1000, inFlight: null, followUp: null, logins: new Map() };
      schedules.set(cluster, entry);
    }
    return entry;
  }

  /**
   * The jobs a poll asks about: those not ended, and those that ended in the queue's word before accounting had
   * their exit code (accounting can lag the controller by a moment), for a few minutes after their end.
   */
  async function activeJobs(em: EntityManager, cluster: string): Promise<Job[]> {
    const awaitingExitCode = { state: { $in: [...TERMINAL_STATES] }, exitCode: null, slurmJobId: { $ne: null }, endedAt: { $gt: new Date(Date.now() - EXIT_CODE_WAIT_MS) } };
    return em.find(Job, { cluster, $or: [{ state: { $nin: [...TERMINAL_STATES] } }, awaitingExitCode] }, { orderBy: { id: 'asc' } });
  }

  /** One login's jobs asked about by one command; whether any changed. A failure is recorded, never thrown. */
  async function pollLogin(cluster: string, entry: ClusterSchedule, userId: number, jobs: Job[], em: EntityManager, baseMs: number, fresh: boolean): Promise<{ changed: boolean; durationMs: number }> {
    let login = entry.logins.get(userId);
    if (!login) entry.logins.set(userId, (login = { externalJobs: [], failing: false, retryAt: 0, retryMs: baseMs }));
    if (login.failing && !fresh && Date.now() < login.retryAt) return { changed: false, durationMs: 0 };
    const startedAt = performance.now();
    try {
      const result = await pollJobs(await clusters.transport(cluster, userId), jobs.flatMap((job) => (job.slurmJobId ? [job.slurmJobId] : [])));
      const changes = jobs.map(changeOf);
      const answer = { ...result, statusOf: statusLookup(result), finished: statusIndex(result.finished) };
      for (const job of jobs) applyPoll(job, answer);
      const changed = (await saveAndAnnounce(em, events, changes)) > 0;
      login.externalJobs = result.queue.filter((status) => !isOurWorkDir(status.workDir));
      clusters.recordPoll(cluster, userId, { at: new Date(), error: null, needsReauth: null });
      const durationMs = Math.round(performance.now() - startedAt);
      onPolled?.({ cluster, durationMs, ok: true });
      if (login.failing) log.info({ cluster, userId, durationMs }, 'poll answered again');
      else log.debug({ cluster, userId, jobs: jobs.length, changed, durationMs }, 'polled');
      login.failing = false;
      login.retryMs = baseMs;
      return { changed, durationMs: result.durationMs };
    } catch (error) {
      const durationMs = Math.round(performance.now() - startedAt);
      onPolled?.({ cluster, durationMs, ok: false });
      // Warned of once per outage; the retries that follow (backed off) are debug.
      log[login.failing ? 'debug' : 'warn']({ cluster, userId, jobs: jobs.length, durationMs, ...errorFields(error) }, 'poll failed: job states shown are the last known');
      // A login that expired needs a person, not retries: wait at the longest interval (the check is local).
      login.retryMs = error instanceof ReauthRequiredError ? baseMs * MAX_BACKOFF : Math.min((login.failing ? login.retryMs : baseMs) * 2, baseMs * MAX_BACKOFF);
      // Full jitter on the part beyond the base interval spreads retries of many logins apart.
      login.retryAt = Date.now() + baseMs + random() * Math.max(0, login.retryMs - baseMs);
      login.failing = true;
      clusters.recordPoll(cluster, userId, {
        at: new Date(),
        error: (error as Error).message,
        needsReauth: error instanceof ReauthRequiredError ? error.command : null,
      });
      return { changed: false, durationMs: 0 };
    }
  }

  async function pollCluster(cluster: string, fresh = false): Promise<void> {
    const entry = schedule(cluster);
    const baseMs = clusters.config(cluster).pollIntervalSeconds * 1000;
    // Only the leader of a group server's replicas polls; a replica that is not (any more) asks nothing.
    if (fence && !(await fence())) {
      entry.nextPollAt = Date.now() + baseMs;
      return;
    }
    const em = orm.em.fork();
    const jobs = await activeJobs(em, cluster);
    const byLogin = new Map<number, Job[]>();
    for (const job of jobs) byLogin.set(job.userId, [...(byLogin.get(job.userId) ?? []), job]);
    // A login with nothing active any more shows no external jobs from an old answer.
    for (const [userId, login] of entry.logins) if (!byLogin.has(userId)) login.externalJobs = [];
    if (jobs.length === 0) {
      entry.nextPollAt = Date.now() + baseMs;
      return;
    }
    const polls = await Promise.all([...byLogin].map(([userId, own]) => pollLogin(cluster, entry, userId, own, em, baseMs, fresh)));
    // Back off while nothing changes; never ask more often than 5x what the slowest answer took.
    const next = polls.some((poll) => poll.changed) ? baseMs : Math.min(entry.intervalMs * 1.5, baseMs * MAX_BACKOFF);
    entry.intervalMs = Math.max(next, ...polls.map((poll) => poll.durationMs * 5));
    entry.nextPollAt = Date.now() + baseMs + random() * Math.max(0, entry.intervalMs - baseMs);
  }

  /**
   * Starts a poll, or joins the one in flight; `fresh` asks for an answer given after the call (a cancel just sent,
   * an end just reported), so it waits for the poll in flight and then polls once more (one follow-up for all such
   * callers).
   */
  function start(cluster: string, fresh = false): Promise<void> {
    const entry = schedule(cluster);
    if (fresh && entry.inFlight) {
      entry.followUp ??= entry.inFlight.then(() => {
        entry.followUp = null;
        return stopped ? undefined : start(cluster);
      });
      return entry.followUp;
    }
    entry.inFlight ??= pollCluster(cluster, fresh)
      .catch((error: unknown) => log.error({ cluster, ...errorFields(error) }, 'poll failed'))
      .finally(() => {
        entry.inFlight = null;
      });
    return entry.inFlight;
  }

  return {
    /** Polls every cluster that is due; clusters never wait for each other. */
    tick(): void {
      const now = Date.now();
      for (const cluster of clusters.names()) {
        if (schedule(cluster).nextPollAt <= now) void start(cluster);
      }
    },
    /** Polls a cluster now (after the poll in flight, if any), e.g. when a job's script reported its end. */
    pollNow(cluster: string): Promise<void> {
      if (stopped) return Promise.resolve();
      schedule(cluster).intervalMs = clusters.config(cluster).pollIntervalSeconds * 1000;
      return start(cluster, true);
    },
    /** The user's own jobs in the cluster's queue that Mission Control did not submit, from their login's last poll. */
    externalJobs(cluster: string, userId: number): SlurmJobStatus[] {
      return schedules.get(cluster)?.logins.get(userId)?.externalJobs ?? [];
    },
    /** Started and not stopped (GET /readyz). */
    running(): boolean {
      return cron !== null && !stopped;
    },
    start(): void {
      cron ??= new Cron('* * * * * *', { protect: true }, () => this.tick());
    },
    async stop(): Promise<void> {
      stopped = true;
      cron?.stop();
      cron = null;
      await Promise.all([...schedules.values()].flatMap((entry) => [entry.inFlight, entry.followUp]));
    },
  };
}
