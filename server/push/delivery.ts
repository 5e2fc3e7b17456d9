// Sending a notice to its recipients: the devices (Web Push) and the destinations of the config (ntfy, webhooks,
// email). Claimed in the database first, so a repeated event or a restart never sends it twice (a crash between claim
// and send loses that one message: at most once, never twice); then one message per recipient, each kind through its
// own bounded queue, each outcome kept (a device's on its subscription, a destination's in memory).
// A recipient is a device or a destination seen through the same settings, so every notice chooses its recipients
// (mutes, which notices, thresholds) once, whatever they are.
import type { EntityManager } from '@mikro-orm/knex';
import { clusterSecretFiles, configuredDestinations, DEFAULT_VAPID_SUBJECT, type Config, type DestinationConfig, type NoticeEvent } from '../config.js';
import { firstAdminOf } from '../access/users.js';
import { Project, PushNotice, PushSubscription } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { createRedactor } from '../lib/redaction.js';
import { createDestinationSender, type DestinationSenderOptions } from './destinations.js';
import { removePushSubscription } from './subscriptions.js';
import { endpointOrigin, loadVapidKeys, sendPush, type PushMessage, type VapidKeys } from './web-push.js';

// A device offline for longer than a day gets nothing of that day: by then the app shows the news itself.
const TTL_SECONDS = 24 * 3600;

export interface DeliveryOptions {
  orm: Orm;
  /** The config in force now (it changes when the file does). */
  config: () => Config;
  sendTimeoutMs: number;
  sendConcurrency: number;
  /** Counts each message's outcome by channel (webpush, ntfy, webhook, email) and result (ok, failed, gone). */
  notificationsSent?: NotificationsSent;
  /** Tries and backoff of a destination (tests shorten them). */
  destinations?: Pick<DestinationSenderOptions, 'tries' | 'retryBaseMs' | 'retryCapMs' | 'concurrency'>;
  now: () => Date;
}

export type Delivery = ReturnType<typeof createDelivery>;

/** prom-client's Counter as server/lib/prometheus.ts makes it (notificationsSent), or anything counting alike. */
export interface NotificationsSent {
  inc(labels: { channel: string; result: 'ok' | 'failed' | 'gone' }): void;
}

const log = componentLogger('push');

/** Which notices a recipient hears: a device's settings (PushSubscription), which a destination's config maps onto. */
export interface NoticeSettings {
  mutedProjectIds: number[];
  jobEndPushes: boolean;
  sweepEndPushes: boolean;
  reauthPushes: boolean;
  failedTaskPushes: boolean;
  metricNanPushes: boolean;
  gpuIdlePushes: boolean;
  requeuePushes: boolean;
  timeLimitPushes: boolean;
  pendingAfterMinutes: number | null;
  startedAfterWaitMinutes: number | null;
}

export type Recipient = NoticeSettings & {
  /** Unique over all recipients; keys per-recipient notices (the pending reminders): a device's id as it always was. */
  id: string;
  /** The user whose jobs it hears of: a device's; the config's destinations are the first admin's. */
  userId: number;
} & ({ device: PushSubscription; destination?: never } | { destination: DestinationConfig; device?: never });

export interface Addressed {
  recipient: Recipient;
  message: PushMessage;
}

/** Whether a recipient hears of a job or sweep: its user's, in a project it did not mute. */
export function hearsOf(recipient: Recipient, about: { userId: number; projectId: number }): boolean {
  return recipient.userId === about.userId && !recipient.mutedProjectIds.includes(about.projectId);
}

function deviceRecipient(device: PushSubscription): Recipient {
  const { mutedProjectIds, failedTaskPushes, metricNanPushes, gpuIdlePushes, requeuePushes, timeLimitPushes, pendingAfterMinutes, startedAfterWaitMinutes } = device;
  // A device hears of every end and every lost login: those are what it subscribed for.
  const always = { jobEndPushes: true, sweepEndPushes: true, reauthPushes: true };
  return { id: String(device.id), userId: device.userId, device, mutedProjectIds, failedTaskPushes, metricNanPushes, gpuIdlePushes, requeuePushes, timeLimitPushes, pendingAfterMinutes: pendingAfterMinutes ?? null, startedAfterWaitMinutes: startedAfterWaitMinutes ?? null, ...always };
}

function destinationRecipient(destination: DestinationConfig, projectIds: Map<string, number[]>, userId: number): Recipient {
  const hears = (event: NoticeEvent) => destination.events.includes(event);
  const mutedProjectIds = [...new Set(destination.mutedProjects.flatMap((project) => (typeof project === 'number' ? [project] : (projectIds.get(project) ?? []))))];
  return {
    id: `destination:${destination.name}`,
    userId,
    destination,
    mutedProjectIds,
    jobEndPushes: hears('jobEnd'),
    sweepEndPushes: hears('sweepEnd'),
    reauthPushes: hears('reauth'),
    failedTaskPushes: hears('failedTask'),
    metricNanPushes: hears('metricNan'),
    gpuIdlePushes: hears('gpuIdle'),
    requeuePushes: hears('requeue'),
    timeLimitPushes: hears('timeLimit'),
    pendingAfterMinutes: destination.pendingAfterMinutes ?? null,
    startedAfterWaitMinutes: destination.startedAfterWaitMinutes ?? null,
  };
}

export function createDelivery({ orm, config, sendTimeoutMs, sendConcurrency, destinations: destinationOptions, notificationsSent, now }: DeliveryOptions) {
  const sends = createChannelLimiter(sendConcurrency);
  const destinations = createDestinationSender({ config, timeoutMs: sendTimeoutMs, ...destinationOptions, now });
  let keys: Promise<VapidKeys> | null = null;
  // A notice leaves the server like a GraphQL answer: the re-login command, sbatch's refusal or a log line can name a
  // key, password or known_hosts file, which a lock screen, a chat room or a mailbox must not show.
  const redact = createRedactor(() => clusterSecretFiles(config().clusters));

  function vapidKeys(): Promise<VapidKeys> {
    keys ??= loadVapidKeys(orm).catch((error: unknown) => {
      keys = null;
      throw error;
    });
    return keys;
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

  /**
   * Every recipient: the devices, then the config's destinations (their muted project names read as ids), which are
   * the first admin's until destinations name their user.
   */
  async function recipients(em: EntityManager): Promise<Recipient[]> {
    const configured = configuredDestinations(config());
    const names = [...new Set(configured.flatMap((destination) => destination.mutedProjects.filter((project) => typeof project === 'string')))];
    const projectIds = new Map<string, number[]>();
    if (names.length > 0) {
      for (const project of await em.find(Project, { name: { $in: names } }, { fields: ['id', 'name'] })) projectIds.set(project.name, [...(projectIds.get(project.name) ?? []), project.id]);
    }
    const devices = await em.find(PushSubscription, {}, { orderBy: { id: 'asc' } });
    const admin = configured.length > 0 ? await firstAdminOf(em) : null;
    return [...devices.map(deviceRecipient), ...(admin ? configured.map((destination) => destinationRecipient(destination, projectIds, admin.id)) : [])];
  }

  /** The recipients that hear of a job or sweep: its user's, but those that muted its project. */
  async function listeningTo(em: EntityManager, about: { userId: number; projectId: number }): Promise<Recipient[]> {
    return (await recipients(em)).filter((recipient) => hearsOf(recipient, about));
  }

  const redacted = (message: PushMessage): PushMessage => ({ ...message, title: redact(message.title), body: redact(message.body) });

  async function deliverToDevice(subscription: PushSubscription, message: PushMessage): Promise<void> {
    const release = await sends.acquire();
    let outcome;
    try {
      // Asked again just before sending: a device whose token was revoked (by the CLI, in another process) since the
      // list was read is gone with it, and hears nothing more.
      if (!(await orm.em.fork().count(PushSubscription, { id: subscription.id }))) return;
      outcome = await sendPush(subscription, redacted(message), {
        vapid: await vapidKeys(),
        subject: config().notifications?.subject ?? DEFAULT_VAPID_SUBJECT,
        timeoutMs: sendTimeoutMs,
        ttlSeconds: TTL_SECONDS,
        topic: message.tag,
      });
    } finally {
      release();
    }
    const em = orm.em.fork();
    const where = `push subscription ${subscription.id} (${endpointOrigin(subscription.endpoint)})`;
    notificationsSent?.inc({ channel: 'webpush', result: outcome.ok ? 'ok' : outcome.gone ? 'gone' : 'failed' });
    if (outcome.ok) {
      await em.nativeUpdate(PushSubscription, { id: subscription.id }, { lastSuccessAt: now(), lastError: null });
    } else if (outcome.gone) {
      // Unless the browser registered it again meanwhile: then it is alive, with new keys.
      if (await removePushSubscription(em, subscription.id, subscription.updatedAt)) log.info({ subscription: subscription.id }, `${where} is gone (${outcome.error}): removed`);
    } else {
      log.warn({ subscription: subscription.id }, `${where}: push failed, kept: ${outcome.error}`);
      await em.nativeUpdate(PushSubscription, { id: subscription.id }, { lastFailureAt: now(), lastError: outcome.error });
    }
  }

  async function deliverToDestination(destination: DestinationConfig, message: PushMessage): Promise<void> {
    const outcome = await destinations.send(destination, redacted(message));
    notificationsSent?.inc({ channel: destination.type, result: outcome.ok ? 'ok' : 'failed' });
    if (!outcome.ok) log.warn({ destination: destination.name, channel: destination.type, notice: message.tag }, `destination ${destination.name} (${destination.type}): not sent: ${outcome.error}`);
  }

  const deliver = ({ recipient, message }: Addressed): Promise<void> =>
    recipient.device ? deliverToDevice(recipient.device, message) : deliverToDestination(recipient.destination, message);

  /** One recipient failing (or its bookkeeping, or its retries) never keeps the message from the others. */
  async function broadcast(deliveries: Addressed[]): Promise<void> {
    const results = await Promise.allSettled(deliveries.map(deliver));
    for (const [index, result] of results.entries()) {
      if (result.status === 'rejected') log.error({ recipient: deliveries[index]!.recipient.id, ...errorFields(result.reason) }, `recipient ${deliveries[index]!.recipient.id}: ${(result.reason as Error).message}`);
    }
  }

  /** "Send a test" of Settings: one try, no claim (a test is no notice), its outcome kept like a notice's. */
  async function test(destination: DestinationConfig): Promise<{ ok: boolean; error: string | null }> {
    const message: PushMessage = { title: 'Mission Control test', body: `A test from Settings: ${destination.name} (${destination.type}) receives notifications.`, url: '/settings', tag: 'test' };
    const outcome = await destinations.send(destination, message, { tries: 1 });
    return outcome.ok ? { ok: true, error: null } : { ok: false, error: outcome.error };
  }

  return { vapidKeys, claim, recipients, listeningTo, broadcast, test, destinationStatus: destinations.status, secretValues: destinations.secretValues, stop: destinations.stop };
}
