// Events from the server to subscriptions. Payloads are plain objects (never managed entities), because a
// subscriber's resolvers run long after the EntityManager that loaded them is gone.
//
// One process (the embedded server): an in-memory EventTarget, as graphql-yoga's createPubSub makes by default.
// Several replicas (the group server): a hybrid target. An event is delivered to this replica's subscribers at once
// and also published on Redis, tagged with this replica's origin; every replica relays what Redis brings to its own
// subscribers, except what it published itself. So each replica sees each event exactly once, and a replica's own
// events never wait on (or depend on) Redis.
//
// Redis pub/sub is at most once: while a connection is down (or before a SUBSCRIBE reaches the server), events
// published meanwhile are lost to that replica, and ioredis re-subscribes on reconnect without replaying them. This
// bus does not try to fill that gap: the leader sweeps job ends that were missed, elsewhere.
import { randomUUID } from 'node:crypto';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSubEventTarget } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import type { ClusterStatus } from './clusters/service.js';
import type { Job, Sweep } from './db/entities.js';
import type { GpuAvailability } from './clusters/gpu.js';
import { componentLogger, errorFields } from './lib/log.js';

export type JobSnapshot = Job;
/** A sweep without its run list (which can be large and never changes). */
export type SweepSnapshot = Omit<Sweep, 'runs'>;

export interface JobLogChunk {
  jobId: number;
  /** Byte offset in the output file where `text` starts. */
  fromByte: number;
  text: string;
}

export type Events = {
  'job:updated': [JobSnapshot];
  'sweep:updated': [SweepSnapshot];
  /** New points of a job's metrics were stored (at most once a second per job). */
  'metrics:updated': [{ jobId: number; names: string[] }];
  'job:log': [number, JobLogChunk];
  'cluster:status': [ClusterStatus];
  'gpu:availability': [string, GpuAvailability];
};

/**
 * Keys whose topics (`key` and `key:<id>`) never leave the replica. Each replica tails a job's log over SSH for its
 * own subscribers: were its chunks also sent through Redis, a subscriber would get every chunk twice.
 */
export const LOCAL_ONLY_KEYS: ReadonlyArray<keyof Events> = ['job:log'];

/** Put before each topic to make its Redis channel: other applications on the same Redis keep their channels. */
export const DEFAULT_CHANNEL_PREFIX = 'mission-control:';

/** The two connections of one replica's bus; quitting them is the caller's (after `close()`). */
export interface RedisClients {
  /** Sends this replica's events. */
  publishClient: Redis;
  /**
   * Only subscribes (a connection in subscriber mode can do nothing else), one bus per client. Made with
   * `maxRetriesPerRequest: null`: see createRedisClients.
   */
  subscribeClient: Redis;
}

export interface EventsOptions {
  /** Without it, the bus is in memory (one process). */
  redis?: RedisClients;
  /** This replica's name on the bus, to recognise its own events coming back from Redis (default: a random UUID). */
  origin?: string;
  /** Default DEFAULT_CHANNEL_PREFIX; two deployments sharing one Redis need different prefixes. */
  channelPrefix?: string;
}

export type PubSub = ReturnType<typeof createEvents>;

/** What travels on Redis: the event's payload and the replica that published it. */
interface Envelope {
  origin: string;
  payload: unknown;
}

const log = componentLogger('server');

export function createEvents(options: EventsOptions = {}) {
  if (!options.redis) {
    // Nothing to detach: the in-memory target goes away with its subscribers.
    return { ...createPubSub<Events>(), close(): void {} };
  }
  const target = createHybridEventTarget(options.redis, options.origin ?? randomUUID(), options.channelPrefix ?? DEFAULT_CHANNEL_PREFIX);
  return {
    ...createPubSub<Events>({ eventTarget: target as unknown as PubSubEventTarget<Events> }),
    /** Unsubscribes this replica from Redis (its local subscribers still get its own events). Call before quitting the clients. */
    close: target.close,
  };
}

/**
 * The two connections a bus needs, with the options it relies on. ioredis is loaded here, on the group server's path
 * only: the embedded server never loads it.
 */
export async function createRedisClients(url: string): Promise<RedisClients & { quit(): Promise<void> }> {
  const { Redis } = await import('ioredis');
  // Without a listener, ioredis prints each connection error to stderr itself; the server's log says which client.
  const logged = (client: Redis, name: string) => client.on('error', (error: unknown) => log.warn({ redis: name, ...errorFields(error) }, 'event bus: redis connection error'));
  // Publishes wait through a short outage in ioredis' offline queue; after its retries (the default 20) they fail and
  // are logged, not kept without bound.
  const publishClient = new Redis(url);
  // SUBSCRIBE and UNSUBSCRIBE (sent by @graphql-yoga/redis-event-target, which does not catch their promises) must
  // never fail while Redis is away, or the rejection would end the process: they wait for the reconnection instead.
  const subscribeClient = new Redis(url, { maxRetriesPerRequest: null });
  logged(publishClient, 'publish');
  logged(subscribeClient, 'subscribe');
  return {
    publishClient,
    subscribeClient,
    async quit() {
      // A client already closed (by disconnect(), or after giving up on Redis) would reject QUIT: nothing to end there.
      await Promise.all([publishClient, subscribeClient].filter((client) => client.status !== 'end').map((client) => client.quit()));
    },
  };
}

/** True when events on this topic stay on the replica that published them (LOCAL_ONLY_KEYS). */
function isLocalOnly(topic: string): boolean {
  return LOCAL_ONLY_KEYS.some((key) => topic === key || topic.startsWith(`${key}:`));
}

// Dates in a payload travel as { "$date": <epoch ms> } (null for an invalid Date, as JSON writes NaN). A payload object
// that is itself exactly { $date: number } would come back as a Date: no event type has such a field.
const DATE_TAG = '$date';

function isDateTag(value: unknown): value is { [DATE_TAG]: number | null } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const time = (value as Record<string, unknown>)[DATE_TAG];
  return keys.length === 1 && keys[0] === DATE_TAG && (typeof time === 'number' || time === null);
}

/**
 * JSON that keeps Dates (job and sweep snapshots, cluster status and GPU availability hold them, and the DateTime
 * scalar calls toISOString on them). Otherwise plain JSON: `undefined` properties are left out, `undefined` in an
 * array becomes null.
 */
export const eventSerializer = {
  stringify(value: unknown): string {
    return JSON.stringify(value, function tagDates(this: Record<string, unknown>, key: string, converted: unknown) {
      // JSON.stringify has already turned the Date into a string with its toJSON; the holder still has the Date.
      const original = this[key];
      return original instanceof Date ? { [DATE_TAG]: original.getTime() } : converted;
    });
  },
  parse(text: string): unknown {
    return JSON.parse(text, (_key, value: unknown) => (isDateTag(value) ? new Date(value[DATE_TAG] ?? Number.NaN) : value));
  },
};

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && typeof (value as Envelope).origin === 'string' && 'payload' in value;
}

/**
 * Delivers locally at once and publishes on Redis; relays what other replicas published. The Redis side's
 * SUBSCRIBE/UNSUBSCRIBE bookkeeping is @graphql-yoga/redis-event-target's: this target asks it for one relay per
 * topic, while the topic has local subscribers. Publishing is done here, not by its dispatchEvent: that one drops the
 * promise of PUBLISH, and a publish that fails (Redis away longer than the client's retries) would be an unhandled
 * rejection, which ends a Node process.
 */
function createHybridEventTarget({ publishClient, subscribeClient }: RedisClients, origin: string, channelPrefix: string) {
  if (subscribeClient.options.maxRetriesPerRequest !== null) {
    throw new TypeError('the event bus needs its Redis subscribe client made with maxRetriesPerRequest: null (createRedisClients makes it so)');
  }
  const local = new EventTarget();
  const remote = createRedisEventTarget<CustomEvent<unknown>>({
    publishClient,
    subscribeClient,
    serializer: {
      // Never called: publishing is done here (below).
      stringify: eventSerializer.stringify,
      // Thrown from here, the error would surface in ioredis' socket handler and end the process: anything with
      // access to the Redis can publish on our channels.
      parse(message: string): unknown {
        try {
          return eventSerializer.parse(message);
        } catch (error) {
          log.warn({ message: message.slice(0, 200), ...errorFields(error) }, 'event bus: a Redis message that is not JSON was dropped');
          return null;
        }
      },
    },
  });
  /** Per topic, its local listeners that want other replicas' events; the relay is subscribed while there are any. */
  const listenersByTopic = new Map<string, Set<EventListenerOrEventListenerObject>>();
  let closed = false;

  const channelOf = (topic: string) => channelPrefix + topic;

  function relay(event: CustomEvent<unknown>): void {
    const message = event.detail;
    if (!isEnvelope(message)) {
      // null: parse already said why.
      if (message !== null) log.warn({ channel: event.type }, 'event bus: a Redis message without origin and payload was dropped');
      return;
    }
    // This replica's own events were delivered when they were dispatched.
    if (message.origin === origin) return;
    local.dispatchEvent(new CustomEvent(event.type.slice(channelPrefix.length), { detail: message.payload }));
  }

  function publish(topic: string, payload: unknown): void {
    let message: string;
    try {
      message = eventSerializer.stringify({ origin, payload } satisfies Envelope);
    } catch (error) {
      // A payload JSON cannot hold (a cycle, a BigInt) is a bug in its publisher; the other events keep flowing.
      log.error({ topic, ...errorFields(error) }, 'event bus: an event could not be serialized for the other replicas');
      return;
    }
    publishClient.publish(channelOf(topic), message).catch((error: unknown) => {
      log.warn({ topic, ...errorFields(error) }, 'event bus: an event was not sent to the other replicas');
    });
  }

  return {
    // createPubSub passes neither options nor a null listener; neither is needed here.
    addEventListener(topic: string, listener: EventListenerOrEventListenerObject): void {
      local.addEventListener(topic, listener);
      if (closed || isLocalOnly(topic)) return;
      let listeners = listenersByTopic.get(topic);
      if (!listeners) {
        listeners = new Set();
        listenersByTopic.set(topic, listeners);
        remote.addEventListener(channelOf(topic), relay);
      }
      listeners.add(listener);
    },
    removeEventListener(topic: string, listener: EventListenerOrEventListenerObject): void {
      local.removeEventListener(topic, listener);
      const listeners = listenersByTopic.get(topic);
      if (!listeners?.delete(listener) || listeners.size > 0) return;
      listenersByTopic.delete(topic);
      remote.removeEventListener(channelOf(topic), relay);
    },
    dispatchEvent(event: CustomEvent<unknown>): boolean {
      const delivered = local.dispatchEvent(event);
      if (!closed && !isLocalOnly(event.type)) publish(event.type, event.detail);
      return delivered;
    },
    close(): void {
      closed = true;
      for (const topic of listenersByTopic.keys()) remote.removeEventListener(channelOf(topic), relay);
      listenersByTopic.clear();
    },
  };
}
