// Sending a notice to devices: claimed in the database first, so a repeated event or a restart never sends it twice
// (a crash between claim and send loses that one message: at most once, never twice); then one push per device,
// a bounded number at once, each device's outcome written back to its subscription.
import type { EntityManager } from '@mikro-orm/sqlite';
import { DEFAULT_VAPID_SUBJECT, type Config } from '../config.js';
import { PushNotice, PushSubscription } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { createRedactor } from '../lib/redaction.js';
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
  now: () => Date;
}

export type Delivery = ReturnType<typeof createDelivery>;

export interface Addressed {
  subscription: PushSubscription;
  message: PushMessage;
}

/** The devices that hear about a project: all but those that muted it. */
export function listeningTo(em: EntityManager, projectId: number): Promise<PushSubscription[]> {
  return em.find(PushSubscription, {}, { orderBy: { id: 'asc' } }).then((all) => all.filter((subscription) => !subscription.mutedProjectIds.includes(projectId)));
}

export function createDelivery({ orm, config, sendTimeoutMs, sendConcurrency, now }: DeliveryOptions) {
  const sends = createChannelLimiter(sendConcurrency);
  let keys: Promise<VapidKeys> | null = null;
  // A push leaves the server like a GraphQL answer: the re-login command, sbatch's refusal or a log line can name a
  // key, password or known_hosts file, which the phone's lock screen must not show.
  const redact = createRedactor(() => config().clusters);

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

  async function deliver({ subscription, message }: Addressed): Promise<void> {
    const release = await sends.acquire();
    let outcome;
    try {
      // Asked again just before sending: a device whose token was revoked (by the CLI, in another process) since the
      // list was read is gone with it, and hears nothing more.
      if (!(await orm.em.fork().count(PushSubscription, { id: subscription.id }))) return;
      outcome = await sendPush(subscription, { ...message, title: redact(message.title), body: redact(message.body) }, {
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
  async function broadcast(deliveries: Addressed[]): Promise<void> {
    const results = await Promise.allSettled(deliveries.map(deliver));
    for (const [index, result] of results.entries()) {
      if (result.status === 'rejected') console.error(`notifications: push subscription ${deliveries[index]!.subscription.id}: ${(result.reason as Error).message}`);
    }
  }

  return { vapidKeys, claim, broadcast };
}
