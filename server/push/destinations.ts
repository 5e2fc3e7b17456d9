// Sending a notice to a configured destination (ntfy, a webhook, email): the secret read when it is needed (a rotated
// token file applies at once, and the config never holds it), a bounded number of tries with backoff for what may go
// through later, each destination its own queue (one that hangs or refuses holds nobody else's message), and its last
// success and error kept in memory for Settings (a restart forgets them: the next notice or test tells again).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { configuredDestinations, type Config, type DestinationConfig } from '../config.js';
import { createChannelLimiter, type ChannelLimiter } from '../lib/channel-limiter.js';
import { createBackoff } from '../lib/backoff.js';
import { sendEmail } from './email.js';
import { sendNtfy } from './ntfy.js';
import type { Attempt } from './post-json.js';
import { sendWebhook } from './webhook.js';
import type { PushMessage } from './web-push.js';

export interface DestinationStatus {
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
}

export interface DestinationSenderOptions {
  config: () => Config;
  /** One try, answer included. */
  timeoutMs: number;
  /** Tries of one notice, the first included. */
  tries?: number;
  /** The backoff before the second try is up to this (full jitter), doubling each time up to retryCapMs. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Tries in flight at once per destination. */
  concurrency?: number;
  now: () => Date;
}

async function readSecret(source: Record<string, unknown>, fileField: string, envField: string): Promise<string | null> {
  const file = source[fileField] as string | undefined;
  if (file) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new Error(`${fileField} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const env = source[envField] as string | undefined;
  if (!env) return null;
  const value = process.env[env];
  if (!value) throw new Error(`${envField}: the environment variable ${env} is not set`);
  return value;
}

/** What a person may see of a destination: never a token, a password or a webhook's path (its secret). */
export function destinationTarget(destination: DestinationConfig): string {
  if (destination.type === 'ntfy') {
    const url = new URL(destination.url);
    return `${url.host}${url.pathname}`;
  }
  if (destination.type === 'webhook') return destination.url ? new URL(destination.url).host : destination.urlFile ? 'URL from urlFile' : 'URL from urlEnv';
  return `${destination.to.join(', ')} via ${destination.smtp.host}`;
}

export type DestinationSender = ReturnType<typeof createDestinationSender>;

export function createDestinationSender({ config, timeoutMs, tries = 3, retryBaseMs = 10_000, retryCapMs = 30_000, concurrency = 2, now }: DestinationSenderOptions) {
  const queues = new Map<string, ChannelLimiter>();
  const statuses = new Map<string, DestinationStatus>();
  const stopping = new AbortController();
  // Each secret value read, so the log can keep it out of every line (a service's error may quote it back).
  const secretsRead = new Set<string>();

  const queue = (name: string) => {
    let limiter = queues.get(name);
    if (!limiter) queues.set(name, (limiter = createChannelLimiter(concurrency)));
    return limiter;
  };

  /** The link a notice opens: the app's page, when the server knows the address phones use. */
  const linkOf = (message: PushMessage) => {
    const base = config().server?.publicUrl;
    return base ? `${base}${message.url}` : null;
  };

  async function attempt(destination: DestinationConfig, message: PushMessage): Promise<Attempt> {
    const secrets: string[] = [];
    const secret = async (source: Record<string, unknown>, fileField: string, envField: string) => {
      const value = await readSecret(source, fileField, envField);
      if (value) {
        secrets.push(value);
        secretsRead.add(value);
      }
      return value;
    };
    let outcome: Attempt;
    try {
      if (destination.type === 'ntfy') {
        outcome = await sendNtfy(destination, message, linkOf(message), await secret(destination, 'tokenFile', 'tokenEnv'), timeoutMs);
      } else if (destination.type === 'webhook') {
        const url = destination.url ?? (await secret(destination, 'urlFile', 'urlEnv'));
        // A chat service's webhook written inline still has its token in the path: kept out of logs like the others.
        if (destination.url && destination.format !== 'json') secretsRead.add(new URL(destination.url).pathname);
        let valid = false;
        try {
          valid = url !== null && /^https?:$/.test(new URL(url).protocol);
        } catch {
          // Said below without the text, which is the secret.
        }
        outcome = valid ? await sendWebhook(destination, url!, message, linkOf(message), timeoutMs) : { ok: false, retry: false, error: `${destination.urlFile ? 'urlFile' : 'urlEnv'} does not hold an http:// or https:// URL` };
      } else {
        outcome = await sendEmail(destination, message, linkOf(message), await secret(destination.smtp, 'passwordFile', 'passwordEnv'), timeoutMs);
      }
    } catch (error) {
      outcome = { ok: false, retry: false, error: (error as Error).message };
    }
    if (outcome.ok) return outcome;
    // A service may echo what it was sent (a URL, a header): the secret never reaches a log or Settings through it.
    let error = outcome.error;
    for (const value of secrets) if (value.length >= 4) error = error.replaceAll(value, '<secret>');
    return { ...outcome, error };
  }

  function record(name: string, outcome: Attempt): void {
    const status = statuses.get(name) ?? { lastSuccessAt: null, lastFailureAt: null, lastError: null };
    if (outcome.ok) statuses.set(name, { ...status, lastSuccessAt: now(), lastError: null });
    else statuses.set(name, { ...status, lastFailureAt: now(), lastError: outcome.error });
  }

  /** The destination as the config has it now, or null once it was removed (a reload while a retry waited). */
  const current = (name: string) => configuredDestinations(config()).find((destination) => destination.name === name) ?? null;

  /**
   * Sends one message, trying again (up to `tries` in all, with backoff) while the failure may pass. Resolves with
   * the last try's outcome; never throws. Stopping the server ends the waits: what was still to be retried is lost.
   */
  async function send(destination: DestinationConfig, message: PushMessage, options: { tries?: number } = {}): Promise<Attempt> {
    const backoff = createBackoff({ baseMs: retryBaseMs, capMs: retryCapMs });
    for (let tried = 1; ; tried++) {
      const release = await queue(destination.name).acquire();
      let outcome: Attempt;
      try {
        outcome = await attempt(destination, message);
      } finally {
        release();
      }
      record(destination.name, outcome);
      if (outcome.ok || !outcome.retry || tried >= (options.tries ?? tries) || stopping.signal.aborted) return outcome;
      try {
        await sleep(backoff.fail(), undefined, { signal: stopping.signal });
      } catch {
        return outcome;
      }
      const latest = current(destination.name);
      if (!latest) return outcome;
      destination = latest;
    }
  }

  return {
    send,
    status: (name: string): DestinationStatus => statuses.get(name) ?? { lastSuccessAt: null, lastFailureAt: null, lastError: null },
    secretValues: (): Iterable<string> => secretsRead,
    /** Ends the waits between tries; tries under way finish (each bounded by its timeout). */
    stop: () => stopping.abort(),
  };
}
