// API tokens: `mc_` + base64url of 32 random bytes, shown once and stored only as a SHA-256 hash. The server and
// the `npm run token` CLI share the database, so every check reads the table: a token created or revoked by the CLI
// applies to the running server at once. Revocation also ends what the token still holds open: its push devices go
// with its row (ON DELETE CASCADE), and its open subscriptions are ended by the revocation watch below.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { ApiToken, User } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { dialectOf } from '../db/sql-dialect.js';
import { NotFoundError, ValidationError } from '../errors.js';

export const TOKEN_PATTERN = /^mc_[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** lastUsedAt is a hint for `token list`, not an audit log: one write a minute per token at most. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface TokenInfo {
  name: string;
  /** The user it acts as. */
  user: string;
  readOnly: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface VerifiedToken {
  id: number;
  name: string;
  readOnly: boolean;
  /** The user it acts as, and whether they are an admin (read at each request: a change applies at once). */
  userId: number;
  admin: boolean;
}

/** How often the server looks for tokens revoked by another process (the token CLI) while something is open. */
export const REVOCATION_CHECK_MS = 250;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

const info = (row: ApiToken, users: ReadonlyMap<number, string>): TokenInfo => ({ name: row.name, user: users.get(row.userId) ?? `#${row.userId}`, readOnly: row.readOnly, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt ?? null });
const userNames = async (em: ReturnType<Orm['em']['fork']>) => new Map((await em.find(User, {})).map((user) => [user.id, user.name]));

export function createTokenService({ orm }: { orm: Orm }) {
  const lastUsedWritten = new Map<number, number>();
  const revocation = createRevocationWatch(orm);

  return {
    /** Returns the token itself, the only time it exists outside the caller's hands. */
    async create(name: string, options: { userId: number; readOnly?: boolean }): Promise<{ token: string; info: TokenInfo }> {
      if (!NAME_PATTERN.test(name)) throw new ValidationError('name', 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
      const taken = () => new ValidationError('name', `a token named "${name}" exists already (revoke it first, or choose another name)`);
      const em = orm.em.fork();
      if (await em.count(ApiToken, { name })) throw taken();
      const token = `mc_${randomBytes(32).toString('base64url')}`;
      if (!(await em.count(User, { id: options.userId }))) throw new NotFoundError(`no user #${options.userId}`);
      const row = em.create(ApiToken, { name, userId: options.userId, tokenHash: sha256(token).toString('hex'), readOnly: options.readOnly ?? false, createdAt: new Date(), lastUsedAt: null });
      try {
        await em.flush();
      } catch (error) {
        // The CLI and the server may both create at once; the unique index decides.
        if (error instanceof UniqueConstraintViolationException) throw taken();
        throw error;
      }
      return { token, info: info(row, await userNames(em)) };
    },

    async list(): Promise<TokenInfo[]> {
      const em = orm.em.fork();
      const users = await userNames(em);
      return (await em.find(ApiToken, {}, { orderBy: { name: 'asc' } })).map((row) => info(row, users));
    },

    async count(): Promise<number> {
      return orm.em.fork().count(ApiToken, {});
    },

    /** Its push devices are deleted with it (the foreign key cascades), in this process or the CLI's. */
    async revoke(name: string): Promise<void> {
      const deleted = await orm.em.fork().nativeDelete(ApiToken, { name });
      if (deleted === 0) throw new NotFoundError(`no token named "${name}"`);
      await revocation.check(true);
    },

    revocation,

    /**
     * The token's name and rights, or null. Every stored hash is compared, in constant time and without stopping at
     * a match, so neither the answer's timing nor the database index tells an attacker how close a guess was.
     */
    async verify(token: string): Promise<VerifiedToken | null> {
      if (!TOKEN_PATTERN.test(token)) return null;
      const presented = sha256(token);
      const rows = await orm.em.fork().find(ApiToken, {});
      let match: ApiToken | undefined;
      for (const row of rows) {
        if (timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), presented)) match = row;
      }
      if (!match) return null;
      const now = Date.now();
      const written = Math.max(lastUsedWritten.get(match.id) ?? 0, match.lastUsedAt?.getTime() ?? 0);
      if (now - written >= LAST_USED_RESOLUTION_MS) {
        lastUsedWritten.set(match.id, now);
        // Not awaited: a request never waits for this bookkeeping, and a failed write only loses a hint.
        void orm.em
          .fork()
          .nativeUpdate(ApiToken, { id: match.id }, { lastUsedAt: new Date(now) })
          .catch(() => lastUsedWritten.delete(match.id));
      }
      const user = await orm.em.fork().findOne(User, { id: match.userId });
      // A token whose user is gone acts as nobody (the user CLI deletes a user's tokens with them).
      if (!user) return null;
      return { id: match.id, name: match.name, readOnly: match.readOnly, userId: user.id, admin: user.admin };
    },
  };
}

/**
 * What ends a revoked token's open subscriptions and sockets. The CLI revokes from another process, so the server
 * looks: SQLite's `data_version` changes when another connection commits, and only then are the token ids read
 * again (on PostgreSQL, every time). It looks every REVOCATION_CHECK_MS while anything is watched, and `stillValid` looks at once (one query
 * shared by every event delivered in the same turn of the event loop), so no event leaves after the revoke committed.
 */
export function createRevocationWatch(orm: Orm) {
  const watchers = new Map<number, Set<() => void>>();
  let dataVersion: number | null = null;
  let liveIds: Set<number> | null = null;
  let inFlight: Promise<Set<number>> | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function read(force: boolean): Promise<Set<number>> {
    const connection = orm.em.getConnection();
    // PostgreSQL tells no such number: its ids are read each time (a table of a few rows, while anything is watched).
    const [row] = dialectOf(orm.em).kind === 'sqlite' ? await connection.execute<Array<{ data_version: number }>>('pragma data_version') : [];
    const version = row?.data_version ?? null;
    if (!force && liveIds && version !== null && version === dataVersion) return liveIds;
    dataVersion = version;
    const rows = await connection.execute<Array<{ id: number }>>('select id from api_token');
    liveIds = new Set(rows.map((token) => token.id));
    for (const [id, callbacks] of watchers) {
      if (liveIds.has(id)) continue;
      watchers.delete(id);
      for (const callback of callbacks) callback();
    }
    if (watchers.size === 0) stopTimer();
    return liveIds;
  }

  function check(force = false): Promise<Set<number>> {
    if (force) return read(true);
    if (!inFlight) {
      inFlight = read(false);
      // Deliveries of one published event share the answer; the next event asks again.
      void inFlight.finally(() => setImmediate(() => (inFlight = null))).catch(() => undefined);
    }
    return inFlight;
  }

  function stopTimer(): void {
    if (timer) clearInterval(timer);
    timer = null;
  }

  return {
    check,
    /** False once the token is revoked (a database error counts as revoked: nothing leaves on a doubt). */
    async stillValid(tokenId: number): Promise<boolean> {
      try {
        // A token created in this process since the ids were read changes no data_version: read them again.
        return (await check()).has(tokenId) || (await check(true)).has(tokenId);
      } catch {
        return false;
      }
    },
    /** Calls `onRevoked` once, when the token is revoked; returns the function that stops watching. */
    watch(tokenId: number, onRevoked: () => void): () => void {
      let callbacks = watchers.get(tokenId);
      if (!callbacks) watchers.set(tokenId, (callbacks = new Set()));
      callbacks.add(onRevoked);
      timer ??= setInterval(() => void check().catch(() => undefined), REVOCATION_CHECK_MS).unref();
      return () => {
        callbacks.delete(onRevoked);
        if (callbacks.size === 0 && watchers.get(tokenId) === callbacks) watchers.delete(tokenId);
        if (watchers.size === 0) stopTimer();
      };
    },
    close: stopTimer,
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
export type RevocationWatch = ReturnType<typeof createRevocationWatch>;
