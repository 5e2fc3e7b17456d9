// Browsers' push subscriptions as the app registers them: validated (each refusal names its field), upserted by
// endpoint, with each device's notification settings. A device belongs to the API token that registered it: only that
// token reads or changes it, and revoking the token deletes it (the foreign key cascades).
import { createPublicKey } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { Project, PushNotice, PushSubscription } from '../db/entities.js';
import { isLoopbackHost } from '../access/session.js';
import { NotFoundError, ValidationError } from '../errors.js';

export interface PushSubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
  /** undefined keeps the stored value (a new subscription: none); null turns the reminder off. */
  pendingAfterMinutes?: number | null;
  mutedProjectIds?: number[] | null;
  /** Also a push for each failed task of a sweep (a sweep's end is one push either way); null: off. */
  failedTaskPushes?: boolean | null;
  /** A running job's metric became NaN or infinite (on for a new device); null: off. */
  metricNanPushes?: boolean | null;
  /** A running job's GPUs all idle for 10 minutes (on for a new device); null: off. */
  gpuIdlePushes?: boolean | null;
  /** A job that waited at least this many minutes starts (none for a new device); null turns it off. */
  startedAfterWaitMinutes?: number | null;
  /** A job put back in the queue under its SLURM id, once per restart (on for a new device); null: off. */
  requeuePushes?: boolean | null;
  /** A running job without resume reaches its time limit in 15 minutes (off for a new device); null: off. */
  timeLimitPushes?: boolean | null;
}

export type PushSettingsChanges = Pick<PushSubscriptionInput, 'pendingAfterMinutes' | 'mutedProjectIds' | 'failedTaskPushes' | 'metricNanPushes' | 'gpuIdlePushes' | 'startedAfterWaitMinutes' | 'requeuePushes' | 'timeLimitPushes'>;

/** A week: a job waiting longer than that is not news any sooner. */
export const MAX_PENDING_AFTER_MINUTES = 7 * 24 * 60;
const MAX_ENDPOINT_LENGTH = 4096;
const MAX_MUTED_PROJECTS = 1000;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * `allowLoopbackHttp`: test receivers on this machine (`notifications.allowLoopbackHttpEndpoints`). Real push services
 * are all https:, so anything else is a mistake or an attempt to make the server post somewhere it should not.
 */
export function validateEndpoint(endpoint: string, allowLoopbackHttp = false): string {
  const fail = (message: string) => new ValidationError('endpoint', message);
  if (endpoint.length > MAX_ENDPOINT_LENGTH) throw fail(`longer than ${MAX_ENDPOINT_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw fail('not a URL');
  }
  // Plain http would let anyone on the path read who gets notified and when.
  if (url.protocol !== 'https:' && !(allowLoopbackHttp && url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw fail(allowLoopbackHttp ? 'must be an https: URL (http: only for this machine: localhost, 127.0.0.1, [::1])' : 'must be an https: URL, as every push service gives');
  }
  if (url.username || url.password) throw fail('must not carry a user name or password');
  return endpoint;
}

function decodeBase64url(field: string, value: string): Buffer {
  if (!BASE64URL.test(value)) throw new ValidationError(field, 'must be base64url, as PushSubscription.toJSON().keys gives it');
  return Buffer.from(value.replace(/=+$/, ''), 'base64url');
}

/** The browser's public key: a 65-byte uncompressed point on P-256. Returned re-encoded without padding. */
export function validateP256dh(value: string): string {
  const bytes = decodeBase64url('p256dh', value);
  if (bytes.length !== 65 || bytes[0] !== 0x04) throw new ValidationError('p256dh', `must be a 65-byte uncompressed P-256 point (got ${bytes.length} bytes)`);
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: bytes.subarray(1, 33).toString('base64url'), y: bytes.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    throw new ValidationError('p256dh', 'is not a point on the P-256 curve');
  }
  return bytes.toString('base64url');
}

export function validateAuth(value: string): string {
  const bytes = decodeBase64url('auth', value);
  if (bytes.length !== 16) throw new ValidationError('auth', `must be a 16-byte secret (got ${bytes.length} bytes)`);
  return bytes.toString('base64url');
}

export function validatePendingAfterMinutes(value: number | null, field = 'pendingAfterMinutes'): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PENDING_AFTER_MINUTES) {
    throw new ValidationError(field, `must be a whole number of minutes from 1 to ${MAX_PENDING_AFTER_MINUTES} (a week), or null for no notification`);
  }
  return value;
}

async function validateMutedProjectIds(em: EntityManager, ids: number[]): Promise<number[]> {
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  if (unique.length > MAX_MUTED_PROJECTS) throw new ValidationError('mutedProjectIds', `at most ${MAX_MUTED_PROJECTS} projects`);
  // Deleted projects are still rows (their jobs keep their history), so a mute list that names one stays valid.
  const found = new Set((await em.find(Project, { id: { $in: unique } }, { fields: ['id'] })).map((project) => project.id));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length > 0) throw new ValidationError('mutedProjectIds', `no project with id ${missing.join(', ')}`);
  return unique;
}

async function applySettings(em: EntityManager, row: PushSubscription, changes: PushSettingsChanges): Promise<void> {
  if (changes.pendingAfterMinutes !== undefined) row.pendingAfterMinutes = validatePendingAfterMinutes(changes.pendingAfterMinutes);
  if (changes.mutedProjectIds !== undefined) row.mutedProjectIds = await validateMutedProjectIds(em, changes.mutedProjectIds ?? []);
  if (changes.failedTaskPushes !== undefined) row.failedTaskPushes = changes.failedTaskPushes ?? false;
  if (changes.metricNanPushes !== undefined) row.metricNanPushes = changes.metricNanPushes ?? false;
  if (changes.gpuIdlePushes !== undefined) row.gpuIdlePushes = changes.gpuIdlePushes ?? false;
  if (changes.startedAfterWaitMinutes !== undefined) row.startedAfterWaitMinutes = validatePendingAfterMinutes(changes.startedAfterWaitMinutes, 'startedAfterWaitMinutes');
  if (changes.requeuePushes !== undefined) row.requeuePushes = changes.requeuePushes ?? false;
  if (changes.timeLimitPushes !== undefined) row.timeLimitPushes = changes.timeLimitPushes ?? false;
}

/**
 * Who asks: an API token's id, or null on a server without tokens (which answers only this machine). A token sees its
 * own devices and those registered before devices had owners.
 */
export type DeviceOwner = number | null;

export function findPushSubscription(em: EntityManager, endpoint: string, owner: DeviceOwner): Promise<PushSubscription | null> {
  return em.findOne(PushSubscription, owner === null ? { endpoint } : { endpoint, tokenId: { $in: [owner, null] } });
}

/**
 * Upsert by endpoint: a browser that subscribes again (new keys) keeps its settings unless it sends new ones, and
 * becomes the registering token's (a phone paired again with a new token brings its device along).
 */
export async function registerPushSubscription(em: EntityManager, input: PushSubscriptionInput, owner: DeviceOwner, userId: number, allowLoopbackHttp = false): Promise<PushSubscription> {
  const endpoint = validateEndpoint(input.endpoint, allowLoopbackHttp);
  const p256dh = validateP256dh(input.p256dh);
  const auth = validateAuth(input.auth);
  const attempt = async (): Promise<PushSubscription> => {
    const now = new Date();
    // Past the request's owner filter: a browser another user registered before becomes this user's, as it becomes the
    // registering token's.
    let row = await em.findOne(PushSubscription, { endpoint }, { filters: false });
    if (row) {
      row.p256dh = p256dh;
      row.auth = auth;
      row.tokenId = owner;
      row.userId = userId;
      row.updatedAt = now;
    } else {
      row = em.create(PushSubscription, { endpoint, p256dh, auth, tokenId: owner, userId, pendingAfterMinutes: null, mutedProjectIds: [], failedTaskPushes: false, metricNanPushes: true, gpuIdlePushes: true, startedAfterWaitMinutes: null, requeuePushes: true, timeLimitPushes: false, createdAt: now, updatedAt: now });
    }
    await applySettings(em, row, input);
    await em.flush();
    return row;
  };
  try {
    return await attempt();
  } catch (error) {
    // The same browser registering twice at once (two tabs): the second insert loses the race and updates instead.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    em.clear();
    return attempt();
  }
}

export async function updatePushSettings(em: EntityManager, endpoint: string, changes: PushSettingsChanges, owner: DeviceOwner): Promise<PushSubscription> {
  const row = await findPushSubscription(em, endpoint, owner);
  if (!row) throw new NotFoundError('no push subscription with this endpoint (register it first)');
  await applySettings(em, row, changes);
  row.updatedAt = new Date();
  await em.flush();
  return row;
}

/** True when the subscription existed. */
export async function unregisterPushSubscription(em: EntityManager, endpoint: string, owner: DeviceOwner): Promise<boolean> {
  const row = await findPushSubscription(em, endpoint, owner);
  if (!row) return false;
  await removePushSubscription(em, row.id);
  return true;
}

/** Also forgets which pending jobs it was told about: ids are never reused, but the rows would only pile up. */
export async function removePushSubscription(em: EntityManager, id: number, unchangedSince?: Date): Promise<boolean> {
  const deleted = await em.nativeDelete(PushSubscription, unchangedSince ? { id, updatedAt: unchangedSince } : { id });
  if (deleted > 0) await em.nativeDelete(PushNotice, { key: { $like: `${pendingNoticePrefix(id)}%` } });
  return deleted > 0;
}

/** A recipient's pending reminders: a device's by its id, a destination's by `destination:<name>`. */
export const pendingNoticePrefix = (recipientId: number | string) => `job-pending:${recipientId}:`;
