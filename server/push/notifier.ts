// Notices by Web Push to the phone, and to the config's destinations (ntfy, webhooks, email): a job's end, its requeue (once per restart), its time limit 15 minutes ahead (jobs without resume, when asked), a sweep's end (and, for devices that ask, each failed task of it), a job or
// sweep waiting in the queue longer than a device asked to be told about, and its start after such a wait, a running
// job's metric gone NaN or its GPUs idle, a cluster whose login expired. It listens to the same events as
// subscriptions (job:updated, sweep:updated, metrics:updated, cluster:status) and reads the database; it never causes a
// remote command of its own, except one bounded read of an ended job's log tail.
// Each notice is claimed in the database before it is sent (delivery.ts): at most once, never twice.
import type { EntityManager } from '@mikro-orm/knex';
import { Cron } from 'croner';
import type { ClusterStatus } from '../clusters/service.js';
import { configuredDestinations, DEFAULT_GPU_IDLE_MINUTES, type Config, type DestinationConfig } from '../config.js';
import { NotFoundError } from '../errors.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { Job, PushNotice } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { PubSub } from '../events.js';
import type { JobService } from '../jobs/service.js';
import { snapshot } from '../jobs/transitions.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import { createDelivery, type DeliveryOptions, type NotificationsSent } from './delivery.js';
import { destinationTarget, type DestinationStatus } from './destinations.js';
import { createJobEndNotices, jobEndKey } from './job-end.js';
import { createJobRequeuedNotices } from './job-requeued.js';
import { createJobStartedNotices } from './job-started.js';
import { reauthMessage } from './messages.js';
import { createMetricAlerts } from './metric-alerts.js';
import { checkPending } from './pending.js';
import { createSweepEndNotices } from './sweep-end.js';
import { checkTimeLimits } from './time-limit.js';
import {
  findPushSubscription,
  registerPushSubscription,
  unregisterPushSubscription,
  updatePushSettings,
  type DeviceOwner,
  type PushSettingsChanges,
  type PushSubscriptionInput,
} from './subscriptions.js';

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
  /** Tries, backoff and queue of each destination (tests shorten them). */
  destinations?: DeliveryOptions['destinations'];
  /** server/lib/prometheus.ts's notificationsSent counter: each message's outcome by channel and result. */
  notificationsSent?: NotificationsSent;
  /** When the pending reminders are looked for (croner pattern, seconds first). */
  pendingCheckPattern?: string;
  /**
   * Among a group server's replicas, the events come over Redis, at most once: with the pending check, also look for
   * jobs that ended in the last MISSED_END_WINDOW_MS without their end notice claimed, and announce them.
   */
  catchUpEnds?: boolean;
  now?: () => Date;
}

/** How far back the replicas' catch-up looks for ends whose event was lost (a Redis outage shorter than this). */
const MISSED_END_WINDOW_MS = 15 * 60_000;

const log = componentLogger('push');

/** Once per expired login: each user's own login to a cluster expires on its own. */
const reauthKey = (status: Pick<ClusterStatus, 'name' | 'userId'>) => `reauth:${status.name}:${status.userId}`;

export interface NotificationDestination extends DestinationStatus {
  name: string;
  type: DestinationConfig['type'];
  /** ntfy: host and topic; webhook: host and format; email: recipients and SMTP host. */
  target: string;
  format: string | null;
  events: string[];
  mutedProjects: string[];
  pendingAfterMinutes: number | null;
  startedAfterWaitMinutes: number | null;
}

export type Notifier = ReturnType<typeof createNotifier>;

export function createNotifier(options: NotifierOptions) {
  const { orm, events, jobs, sendTimeoutMs = 10_000, logTimeoutMs = 5_000, pendingCheckPattern = '*/30 * * * * *', now = () => new Date() } = options;
  let config = options.config;
  const delivery = createDelivery({ orm, config: () => config, sendTimeoutMs, sendConcurrency: options.sendConcurrency ?? 4, destinations: options.destinations, notificationsSent: options.notificationsSent, now });
  const onJobEnded = createJobEndNotices({ orm, jobs, delivery, logTimeoutMs });
  const onJobStarted = createJobStartedNotices({ orm, delivery });
  const onJobRequeued = createJobRequeuedNotices({ orm, delivery });
  const onSweepUpdated = createSweepEndNotices({ orm, delivery });
  const onMetricsUpdated = createMetricAlerts({ orm, delivery, gpuIdleWindowMs: () => (config.notifications?.gpuIdleMinutes ?? DEFAULT_GPU_IDLE_MINUTES) * 60_000 });
  const tasks = new Set<Promise<void>>();
  const unsubscribes: Array<() => void> = [];
  let cron: Cron | null = null;

  /** Runs in the background, tracked so stop() can wait for it; a failure is logged, never thrown at anyone. */
  function background(what: string, work: () => Promise<void>): Promise<void> {
    const task = work()
      .catch((error: unknown) => log.error(errorFields(error), `${what}: ${(error as Error).message}`))
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
    })().catch((error: unknown) => log.error(errorFields(error), `notifications stopped listening: ${(error as Error).message}`));
  }

  async function onClusterStatus(status: ClusterStatus): Promise<void> {
    if (status.needsReauth) {
      if (!(await delivery.claim(reauthKey(status)))) return;
      const em = orm.em.fork();
      // The login is its user's own (the entry's own login is the first admin's): theirs is the push, nobody else's.
      const recipients = (await delivery.recipients(em)).filter((recipient) => recipient.reauthPushes && recipient.userId === status.userId);
      const message = reauthMessage(status.name, status.needsReauth, status.connectionHelp);
      await delivery.broadcast(recipients.map((recipient) => ({ recipient, message })));
    } else if (status.lastPollAt) {
      // Only a poll tells that the login works again; a status from before the first poll knows nothing of it.
      await orm.em.fork().nativeDelete(PushNotice, { key: reauthKey(status) });
    }
  }

  function describeDestination(destination: DestinationConfig): NotificationDestination {
    return {
      name: destination.name,
      type: destination.type,
      target: destinationTarget(destination),
      format: destination.type === 'webhook' ? destination.format : null,
      events: destination.events,
      mutedProjects: destination.mutedProjects.map(String),
      pendingAfterMinutes: destination.pendingAfterMinutes ?? null,
      startedAfterWaitMinutes: destination.startedAfterWaitMinutes ?? null,
      ...delivery.destinationStatus(destination.name),
    };
  }

  const lookForPending = () => checkPending({ orm, delivery, now });
  const lookForTimeLimits = () => checkTimeLimits({ orm, delivery, now });
  /** Ended jobs whose end notice nobody claimed: their event did not arrive. Each is claimed once, as from the event. */
  const lookForMissedEnds = async () => {
    const em = orm.em.fork();
    const ended = await em.find(Job, { endedAt: { $gt: new Date(now().getTime() - MISSED_END_WINDOW_MS) }, state: { $in: [...TERMINAL_STATES] } });
    if (ended.length === 0) return;
    const claimed = new Set((await em.find(PushNotice, { key: { $in: ended.map((job) => jobEndKey(job.id)) } })).map((notice) => notice.key));
    for (const job of ended) if (!claimed.has(jobEndKey(job.id))) background(`job ${job.id} (its end caught up)`, () => onJobEnded(snapshot(job)));
  };

  return {
    /** The VAPID public key (base64url), made on the first start ever and kept in the database. */
    async publicKey(): Promise<string> {
      return (await delivery.vapidKeys()).publicKey;
    },
    async start(): Promise<void> {
      await delivery.vapidKeys();
      if (cron) return;
      listen(events.subscribe('job:updated'), (job) => {
        if (TERMINAL_STATES.has(job.state)) background(`job ${job.id}`, () => onJobEnded(job));
        else if (job.state === 'RUNNING') background(`job ${job.id} started`, () => onJobStarted(job));
        if (job.restarts > 0 && !TERMINAL_STATES.has(job.state)) background(`job ${job.id} requeued`, () => onJobRequeued(job));
      });
      listen(events.subscribe('sweep:updated'), (sweep) => {
        if (sweep.endedAt) background(`sweep ${sweep.id}`, () => onSweepUpdated(sweep));
      });
      listen(events.subscribe('metrics:updated'), (update) => background(`metrics of job ${update.jobId}`, () => onMetricsUpdated(update)));
      listen(events.subscribe('cluster:status'), (status) => background(`cluster ${status.name}`, () => onClusterStatus(status)));
      cron = new Cron(pendingCheckPattern, { protect: true }, () => {
        background('pending reminders', lookForPending);
        background('time limits', lookForTimeLimits);
        if (options.catchUpEnds) background('missed ends', lookForMissedEnds);
      });
    },
    /** Stops listening and waits for the messages under way (each bounded by its timeouts). */
    async stop(): Promise<void> {
      cron?.stop();
      cron = null;
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
      // A destination waiting to try again would hold the stop for up to a minute: that message is given up.
      delivery.stop();
      await idle();
    },
    /** Resolves once nothing is being sent; tests wait on it. */
    idle,
    /** Looks for jobs waiting longer than a device's threshold now (the cron does it every 30 s). */
    checkPending: lookForPending,
    /** Looks for running jobs near their time limit now (the cron does it every 30 s). */
    checkTimeLimits: lookForTimeLimits,
    /** Announces ended jobs whose end no notice claimed (the cron does it every 30 s among replicas). */
    catchUpEnds: lookForMissedEnds,
    applyConfig(next: Config): void {
      config = next;
    },
    /** The destinations' secrets read so far (tokens, passwords, webhook URLs): the log keeps them out of every line. */
    secretValues: () => delivery.secretValues(),
    /** The config's destinations as Settings shows them: no secret, no webhook path; each one's last outcome. */
    destinations: (): NotificationDestination[] => configuredDestinations(config).map(describeDestination),
    /** Sends a test message to one destination now (one try) and says how it went. */
    async testDestination(name: string): Promise<{ ok: boolean; error: string | null; destination: NotificationDestination }> {
      const destination = configuredDestinations(config).find((candidate) => candidate.name === name);
      if (!destination) throw new NotFoundError(`no notification destination named "${name}" in the config`);
      const outcome = await delivery.test(destination);
      return { ...outcome, destination: describeDestination(destination) };
    },
    register: (em: EntityManager, input: PushSubscriptionInput, owner: DeviceOwner, userId: number) =>
      registerPushSubscription(em, input, owner, userId, config.notifications?.allowLoopbackHttpEndpoints ?? false),
    update: (em: EntityManager, endpoint: string, changes: PushSettingsChanges, owner: DeviceOwner) => updatePushSettings(em, endpoint, changes, owner),
    unregister: (em: EntityManager, endpoint: string, owner: DeviceOwner) => unregisterPushSubscription(em, endpoint, owner),
    device: (em: EntityManager, endpoint: string, owner: DeviceOwner) => findPushSubscription(em, endpoint, owner),
  };
}
