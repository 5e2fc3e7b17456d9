// Web Push plumbing: the server's VAPID key pair (made once, kept in the database), and sending one message to one
// subscription. Payload encryption (RFC 8291) and the VAPID header (RFC 8292) are web-push's work; the request itself
// goes out through fetch, because web-push's own sender speaks only https (a loopback http endpoint is what the tests
// and the browser suite stand in for a push service with) and cannot be aborted from outside.
import type { RequestDetails } from 'web-push';
import { ServerSetting } from '../db/entities.js';
import type { Orm } from '../db/orm.js';

export interface VapidKeys {
  /** base64url of the 65-byte uncompressed P-256 point: what a browser takes as applicationServerKey. */
  publicKey: string;
  /** base64url of the 32-byte P-256 scalar. Never leaves this process: not in GraphQL, errors or logs. */
  privateKey: string;
}

/** What the service worker receives (UTF-8 JSON, encrypted): client/public/push-sw.js reads these fields. */
export interface PushMessage {
  title: string;
  body: string;
  url: string;
  tag: string;
  jobId?: number;
  sweepId?: number;
  state?: string;
  cluster?: string;
}

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export type SendOutcome = { ok: true } | { ok: false; /** The push service says the subscription no longer exists. */ gone: boolean; error: string };

const VAPID_KEYS = 'vapid-keys';

/** Loaded on first use: a start whose key pair is stored, and a server that sends no push, never need it. */
const webPush = async () => (await import('web-push')).default;

/**
 * The key pair, created on the first call ever. Two first calls at once both insert-if-absent and read back, so they
 * agree on one pair.
 */
export async function loadVapidKeys(orm: Orm): Promise<VapidKeys> {
  const em = orm.em.fork();
  let stored = await em.findOne(ServerSetting, { key: VAPID_KEYS });
  if (!stored) {
    const fresh = (await webPush()).generateVAPIDKeys();
    await em
      .createQueryBuilder(ServerSetting)
      .insert({ key: VAPID_KEYS, value: JSON.stringify(fresh), createdAt: new Date() })
      .onConflict('key')
      .ignore()
      .execute('run');
    stored = await em.findOneOrFail(ServerSetting, { key: VAPID_KEYS });
  }
  let keys: Partial<VapidKeys>;
  try {
    keys = JSON.parse(stored.value) as Partial<VapidKeys>;
  } catch {
    // JSON.parse quotes the text it choked on, which is the private key: say only where to look.
    throw new Error(`server_setting "${VAPID_KEYS}" is not readable JSON; delete that row to make a new key pair (phones must then subscribe again)`);
  }
  if (typeof keys.publicKey !== 'string' || typeof keys.privateKey !== 'string') {
    throw new Error(`server_setting "${VAPID_KEYS}" lacks publicKey or privateKey; delete that row to make a new key pair (phones must then subscribe again)`);
  }
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}

export interface SendOptions {
  vapid: VapidKeys;
  subject: string;
  timeoutMs: number;
  /** How long the push service keeps the message for an offline device. */
  ttlSeconds: number;
  /** A newer message with the same topic replaces an undelivered older one (base64url, at most 32 characters). */
  topic?: string;
}

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

export async function sendPush(target: PushTarget, message: PushMessage, options: SendOptions): Promise<SendOutcome> {
  let request: RequestDetails;
  try {
    request = (await webPush()).generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, JSON.stringify(message), {
      vapidDetails: { subject: options.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey },
      TTL: options.ttlSeconds,
      ...(options.topic && TOPIC.test(options.topic) ? { topic: options.topic } : {}),
    });
  } catch (error) {
    return { ok: false, gone: false, error: `could not prepare the message: ${(error as Error).message}` };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    // fetch computes the length of the body it sends.
    if (name.toLowerCase() !== 'content-length') headers[name] = String(value);
  }
  try {
    const response = await fetch(request.endpoint, {
      method: request.method,
      headers,
      body: request.body ? new Uint8Array(request.body) : undefined,
      // A push service answers; it never redirects a delivery. Following one would post the payload elsewhere.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = (await response.text()).trim();
    if (response.status >= 200 && response.status < 300) return { ok: true };
    const error = `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    return { ok: false, gone: response.status === 404 || response.status === 410, error };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause ? ` (${cause.code ?? cause.message})` : '';
    return { ok: false, gone: false, error: `${(error as Error).message}${detail}` };
  }
}

/** The push service's origin: enough to tell services apart in logs, without the endpoint's secret path. */
export function endpointOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'an unreadable endpoint';
  }
}
