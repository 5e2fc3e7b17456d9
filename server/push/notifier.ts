// Web Push to the phone: a job's end, a job waiting in the queue longer than a device asked to be told about, a
// cluster whose login expired. It listens to the same events as subscriptions (job:updated, cluster:status) and reads
// the database; it never causes a remote command of its own, except one bounded read of an ended job's log tail.
// Each notice is claimed in the database before it is sent, so a repeated event or a restart never sends it twice
// (a crash between claim and send loses that one message: at most once, never twice).
import type { EntityManager } from '@mikro-orm/sqlite';
import { Cron } from 'croner';
import { createRedactor } from '../http/redaction.js';
import type { ClusterStatus } from '../clusters/service.js';
import { DEFAULT_VAPID_SUBJECT, type Config } from '../config.js';
import { Job, PushNotice, PushSubscription } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { JobService } from '../jobs/service.js';
import { endpointOrigin, loadVapidKeys, sendPush, type PushMessage, type VapidKeys } from './web-push.js';
import {
  findPushSubscription,
  pendingNoticePrefix,
  registerPushSubscription,
  removePushSubscription,
  unregisterPushSubscription,
  updatePushSettings,
  type PushSettingsChanges,
  type DeviceOwner,
  type PushSubscriptionInput,
} from './subscriptions.js';
import type { JobSnapshot, PubSub } from '../events.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { TERMINAL_STATES, type JobState } from '../slurm/state.js';

export interface NotifierOptions {
  orm: Orm;
  events: PubSub;
  jobs: Pick<JobService, 'log'>;
  config: Config;
  /** One delivery to a push service, answer included. */
  sendTimeoutMs?: number;
  /** Reading an ended job's last log line, queueing included; the push goes without the line after that. */
  logTimeoutMs?: number;
  /** Deliveries in flight at once, over all subscriptions. */
  sendConcurrency?: number;
  /** When the pending reminders are looked for (croner pattern, seconds first). */
  pendingCheckPattern?: string;
  now?: () => Date;
}

// A device offline for longer than a day gets nothing of that day: by then the app shows the news itself.
const TTL_SECONDS = 24 * 3600;
const LOG_TAIL_BYTES = 4096;
// Log reads share the cluster's SSH channels with the poller: a burst of job ends must not take all of them.
const LOG_READ_CONCURRENCY = 2;
const MAX_LINE = 200;

const ENDED_AS: Partial<Record<JobState, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'was cancelled',
  TIMEOUT: 'timed out',
  OUT_OF_MEMORY: 'ran out of memory',
  NODE_FAIL: 'lost its node',
  PREEMPTED: 'was preempted',
  SUBMIT_FAILED: 'could not be submitted',
};

const clip = (text: string, length = MAX_LINE) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

export function lastLogLine(text: string): string | null {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const last = lines.at(-1);
  return last === undefined ? null : clip(last);
}

/** How the job ended, in the words a person looks for: the exit code, or the kind of failure. */
function outcomeOf(job: JobSnapshot): string {
  if (job.state === 'SUBMIT_FAILED') {
    const said = job.submitError?.split('\n')[0]!.trim();
    if (!said) return 'sbatch refused the job';
    return clip(said.startsWith('sbatch') ? said : `sbatch: ${said}`);
  }
  const exit = job.exitCode == null ? null : `exit code ${job.exitCode}${job.signal ? `, signal ${job.signal}` : ''}`;
  if ((job.state === 'COMPLETED' || job.state === 'FAILED') && exit) return exit.charAt(0).toUpperCase() + exit.slice(1);
  // SLURM's own words say more when it has them ("CANCELLED by 1001").
  const kind = job.slurmState?.toUpperCase().startsWith(job.state) ? job.slurmState : job.state;
  return exit && job.state !== 'CANCELLED' ? `${kind} (${exit})` : kind;
}

export function jobEndMessage(job: JobSnapshot, logLine: string | null): PushMessage {
  return {
    title: `${job.name} ${ENDED_AS[job.state] ?? job.state}`,
    body: [`${outcomeOf(job)} · ${job.cluster}`, logLine].filter(Boolean).join('\n'),
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: job.state,
    cluster: job.cluster,
  };
}

export function jobPendingMessage(job: Job, minutes: number): PushMessage {
  return {
    title: `${job.name} still pending`,
    body: `Waiting for ${minutes} min on ${job.cluster}${job.reason ? ` (${job.reason})` : ''}`,
    url: `/jobs/${job.id}`,
    tag: `job-${job.id}`,
    jobId: job.id,
    state: 'PENDING',
    cluster: job.cluster,
  };
}

export function reauthMessage(cluster: string, command: string): PushMessage {
  return {
    title: `${cluster} needs you to log in again`,
    body: `Run in a terminal on the server's machine: ${command}`,
    url: '/clusters',
    tag: `reauth-${cluster}`,
    cluster,
  };
}

const jobEndKey = (jobId: number) => `job-end:${jobId}`;
const pendingKey = (subscriptionId: number, jobId: number) => `${pendingNoticePrefix(subscriptionId)}${jobId}`;
const reauthKey = (cluster: string) => `reauth:${cluster}`;

export type Notifier = ReturnType<typeof createNotifier>;

export function createNotifier(options: NotifierOptions) {
  const { orm, events, jobs, sendTimeoutMs = 10_000, logTimeoutMs = 5_000, pendingCheckPattern = '*/30 * * * * *', now = () => new Date() } = options;
  let config = options.config;
  const sends = createChannelLimiter(options.sendConcurrency ?? 4);
  const logReads = createChannelLimiter(LOG_READ_CONCURRENCY);
  const tasks = new Set<Promise<void>>();
  const unsubscribes: Array<() => void> = [];
  let cron: Cron | null = null;
  let keys: Promise<VapidKeys> | null = null;
  // A push leaves the server like a GraphQL answer: the re-login command, sbatch's refusal or a log line can name a
  // key, password or known_hosts file, which the phone's lock screen must not show.
  const redact = createRedactor(() => config.clusters);

  function vapidKeys(): Promise<VapidKeys> {
    keys ??= loadVapidKeys(orm).catch((error: unknown) => {
      keys = null;
      throw error;
    });
    return keys;
  }

  /** Runs in the background, tracked so stop() can wait for it; a failure is logged, never thrown at anyone. */
  function background(what: string, work: () => Promise<void>): Promise<void> {
    const task = work()
      .catch((error: unknown) => console.error(`notifications: ${what}: ${(error as Error).message}`))
      .finally(() => tasks.delete(task));
    tasks.add(task);
    return task;
  }

  async function idle(): Promise<void> {
    while (tasks.size > 0) await Promise.all([...tasks]);
  }

  function listen<T>(source: AsyncIterable<T>, handle: (value: T) => void): void {
    const iterator = source[Symbol.asyncIterator]();
    unsubscribes.push(() => void iterator.return?.());
    // The loop only hands each event on: awaiting work here would let events queue up in the pubsub instead.
    void (async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        handle(next.value);
      }
    })().catch((error: unknown) => console.error(`notifications stopped listening: ${(error as Error).message}`));
  }

  /** True when this call is the one that gets to send the notice. */
  async function claim(key: string): Promise<boolean> {
    const result = await orm.em
      .fork()
      .createQueryBuilder(PushNotice)
      .insert({ key, createdAt: now() })
      .onConflict('key')
      .ignore()
      .execute('run');
    return result.affectedRows === 1;
  }

  async function deliver(subscription: PushSubscription, message: PushMessage): Promise<void> {
    const release = await sends.acquire();
    let outcome;
    try {
      // Asked again just before sending: a device whose token was revoked (by the CLI, in another process) since the
      // list was read is gone with it, and hears nothing more.
      if (!(await orm.em.fork().count(PushSubscription, { id: subscription.id }))) return;
      outcome = await sendPush(subscription, { ...message, title: redact(message.title), body: redact(message.body) }, {
        vapid: await vapidKeys(),
        subject: config.notifications?.subject ?? DEFAULT_VAPID_SUBJECT,
        timeoutMs: sendTimeoutMs,
        ttlSeconds: TTL_SECONDS,
        topic: message.tag,
      });
    } finally {
      release();
    }
    const em = orm.em.fork();
    const where = `push subscription ${subscription.id} (${endpointOrigin(subscription.endpoint)})`;
    if (outcome.ok) {
      await em.nativeUpdate(PushSubscription, { id: subscription.id }, { lastSuccessAt: now(), lastError: null });
    } else if (outcome.gone) {
      // Unless the browser registered it again meanwhile: then it is alive, with new keys.
      if (await removePushSubscription(em, subscription.id, subscription.updatedAt)) console.log(`${where} is gone (${outcome.error}): removed`);
    } else {
      console.warn(`${where}: push failed, kept: ${outcome.error}`);
      await em.nativeUpdate(PushSubscription, { id: subscription.id }, { lastFailureAt: now(), lastError: outcome.error });
    }
  }

  /** One device failing (or its bookkeeping) never keeps the message from the others. */
  async function broadcast(deliveries: Array<{ subscription: PushSubscription; message: PushMessage }>): Promise<void> {
    const results = await Promise.allSettled(deliveries.map(({ subscription, message }) => deliver(subscription, message)));
    for (const [index, result] of results.entries()) {
      if (result.status === 'rejected') console.error(`notifications: push subscription ${deliveries[index]!.subscription.id}: ${(result.reason as Error).message}`);
    }
  }

  function listening(em: EntityManager, projectId: number): Promise<PushSubscription[]> {
    return em.find(PushSubscription, {}, { orderBy: { id: 'asc' } }).then((all) => all.filter((subscription) => !subscription.mutedProjectIds.includes(projectId)));
  }

  async function readLastLine(job: JobSnapshot): Promise<string | null> {
    if (!job.slurmJobId || job.state === 'SUBMIT_FAILED') return null;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve(null);
      }, logTimeoutMs);
    });
    const read = (async () => {
      const release = await logReads.acquire();
      try {
        if (timedOut) return null;
        return lastLogLine((await jobs.log(orm.em.fork(), job.id, LOG_TAIL_BYTES, true)).text);
      } finally {
        release();
      }
    })();
    // The read goes on after the deadline (its command has its own timeout); its failure then is nobody's concern.
    read.catch(() => undefined);
    try {
      const line = await Promise.race([read, deadline]);
      if (timedOut) console.warn(`notifications: job ${job.id}: no log line within ${logTimeoutMs} ms, sent without it`);
      return line;
    } catch (error) {
      console.warn(`notifications: job ${job.id}: log not readable, sent without its last line: ${(error as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async function onJobEnded(job: JobSnapshot): Promise<void> {
    // Claimed even when nobody listens, so a device subscribing later is not told old news.
    if (!(await claim(jobEndKey(job.id)))) return;
    const subscriptions = await listening(orm.em.fork(), job.projectId);
    if (subscriptions.length === 0) return;
    const message = jobEndMessage(job, await readLastLine(job));
    await broadcast(subscriptions.map((subscription) => ({ subscription, message })));
  }

  async function onClusterStatus(status: ClusterStatus): Promise<void> {
    if (status.needsReauth) {
      if (!(await claim(reauthKey(status.name)))) return;
      const subscriptions = await orm.em.fork().find(PushSubscription, {}, { orderBy: { id: 'asc' } });
      const message = reauthMessage(status.name, status.needsReauth);
      await broadcast(subscriptions.map((subscription) => ({ subscription, message })));
    } else if (status.lastPollAt) {
      // Only a poll tells that the login works again; a status from before the first poll knows nothing of it.
      await orm.em.fork().nativeDelete(PushNotice, { key: reauthKey(status.name) });
    }
  }

  async function checkPending(): Promise<void> {
    const em = orm.em.fork();
    const subscriptions = await em.find(PushSubscription, { pendingAfterMinutes: { $ne: null } }, { orderBy: { id: 'asc' } });
    if (subscriptions.length === 0) return;
    const at = now().getTime();
    const shortest = Math.min(...subscriptions.map((subscription) => subscription.pendingAfterMinutes!));
    // createdAt comes before submittedAt, so this finds every job that can be due; the exact start is checked below.
    const pending = await em.find(Job, { state: 'PENDING' satisfies JobState, createdAt: { $lte: new Date(at - shortest * 60_000) } }, { orderBy: { id: 'asc' } });
    const due: Array<{ subscription: PushSubscription; job: Job; minutes: number }> = [];
    for (const subscription of subscriptions) {
      for (const job of pending) {
        const waitedMs = at - (job.submittedAt ?? job.createdAt).getTime();
        if (waitedMs >= subscription.pendingAfterMinutes! * 60_000 && !subscription.mutedProjectIds.includes(job.projectId)) {
          due.push({ subscription, job, minutes: Math.floor(waitedMs / 60_000) });
        }
      }
    }
    if (due.length === 0) return;
    const told = new Set<string>();
    const keys = due.map(({ subscription, job }) => pendingKey(subscription.id, job.id));
    for (let start = 0; start < keys.length; start += 500) {
      for (const notice of await em.find(PushNotice, { key: { $in: keys.slice(start, start + 500) } })) told.add(notice.key);
    }
    const deliveries: Array<{ subscription: PushSubscription; message: PushMessage }> = [];
    for (const { subscription, job, minutes } of due) {
      const key = pendingKey(subscription.id, job.id);
      if (!told.has(key) && (await claim(key))) deliveries.push({ subscription, message: jobPendingMessage(job, minutes) });
    }
    await broadcast(deliveries);
  }

  return {
    /** The VAPID public key (base64url), made on the first start ever and kept in the database. */
    async publicKey(): Promise<string> {
      return (await vapidKeys()).publicKey;
    },
    async start(): Promise<void> {
      await vapidKeys();
      if (cron) return;
      listen(events.subscribe('job:updated'), (job) => {
        if (TERMINAL_STATES.has(job.state)) background(`job ${job.id}`, () => onJobEnded(job));
      });
      listen(events.subscribe('cluster:status'), (status) => background(`cluster ${status.name}`, () => onClusterStatus(status)));
      cron = new Cron(pendingCheckPattern, { protect: true }, () => background('pending reminders', checkPending));
    },
    /** Stops listening and waits for the messages under way (each bounded by its timeouts). */
    async stop(): Promise<void> {
      cron?.stop();
      cron = null;
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
      await idle();
    },
    /** Resolves once nothing is being sent; tests wait on it. */
    idle,
    /** Looks for jobs waiting longer than a device's threshold now (the cron does it every 30 s). */
    checkPending,
    applyConfig(next: Config): void {
      config = next;
    },
    register: (em: EntityManager, input: PushSubscriptionInput, owner: DeviceOwner) =>
      registerPushSubscription(em, input, owner, config.notifications?.allowLoopbackHttpEndpoints ?? false),
    update: (em: EntityManager, endpoint: string, changes: PushSettingsChanges, owner: DeviceOwner) => updatePushSettings(em, endpoint, changes, owner),
    unregister: (em: EntityManager, endpoint: string, owner: DeviceOwner) => unregisterPushSubscription(em, endpoint, owner),
    device: (em: EntityManager, endpoint: string, owner: DeviceOwner) => findPushSubscription(em, endpoint, owner),
  };
}
