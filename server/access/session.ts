// Who is asking: a request's API token (or none, on a loopback server that opted out of tokens) and what it may do.
// The HTTP layer (server/http/auth.ts) finds the token in a request; this decides what it is worth.
import type { RevocationWatch, TokenService } from './tokens.js';
import type { UserService } from './users.js';

/** What a request is allowed to do; resolvers find it in the context. */
export interface Session {
  /** null when the server runs without tokens (loopback, opted out) and the request sent none. */
  tokenName: string | null;
  /** The token's row, whose revocation ends this session's subscriptions; null as tokenName. */
  tokenId: number | null;
  readOnly: boolean;
  authRequired: boolean;
  /** The user it acts as (a token's; without a token, the first admin). */
  userId: number;
  /** An admin sees every user's projects, jobs and sweeps; changes only their own (steerOthers: theirs too). */
  admin: boolean;
}

/**
 * Who a session reads as: sessions that read as the same get the same answer to the same read, so one execution of a
 * subscription's event serves them all (server/http/shared-subscriptions.ts). That is the user, and whether they read
 * as an admin (everyone's): a read-only token differs only in what it may change, a revoked one is refused before it
 * reads.
 */
export function readerOf(session: Session): string {
  return JSON.stringify([session.userId, session.admin]);
}

/**
 * The session of an execution shared by every session that reads as `reader`: no token's identity (so nothing that
 * only one token may see, such as its own push device), and nothing it may change.
 */
export function readingAs(reader: string): Session {
  const [userId, admin] = JSON.parse(reader) as [number, boolean];
  return { tokenName: null, tokenId: null, readOnly: true, authRequired: true, userId, admin };
}

export interface Auth {
  required: boolean;
  revocation: RevocationWatch;
  /**
   * The session for an Authorization value (`Bearer mc_…`) sent to `host` (the request's Host header), or null when
   * it must be refused.
   */
  authenticate(authorization: string | null | undefined, host?: string | null): Promise<Session | null>;
}
/**
 * Whether a request without a token was addressed to this machine by a loopback name. A token-less server trusts
 * whatever can reach it; a web page can reach it too, from any site, by DNS rebinding (its own name made to point
 * to 127.0.0.1, so the browser deems the requests same-origin). Such requests carry that site's name in Host.
 */
export function addressedToLoopback(host: string | null | undefined): boolean {
  if (!host) return true;
  try {
    const name = new URL(`http://${host}`).hostname;
    return isLoopbackHost(name) || name.endsWith('.localhost');
  } catch {
    return false;
  }
}
/** How long a token-less server keeps the first admin's id (a request without a token acts as them). */
const OWNER_TTL_MS = 10_000;

export function createAuth({ tokens, users, required }: { tokens: Pick<TokenService, 'verify' | 'revocation'>; users: Pick<UserService, 'firstAdmin'>; required: boolean }): Auth {
  // Who a request without a token acts as, read again every OWNER_TTL_MS rather than at every request: users change by
  // `npm run user` in another process, rarely.
  let owner: { readAt: number; user: Promise<{ id: number; admin: boolean }> } | null = null;
  const tokenlessOwner = () => {
    if (!owner || Date.now() - owner.readAt > OWNER_TTL_MS) {
      const user = users.firstAdmin();
      owner = { readAt: Date.now(), user };
      // A failed read is not kept: the next request reads again.
      user.catch(() => (owner = null));
    }
    return owner.user;
  };
  return {
    required,
    revocation: tokens.revocation,
    async authenticate(authorization, host) {
      const value = authorization?.trim();
      // Without tokens a request that sends none has every right, if it was addressed to loopback; one that sends a
      // token still gets that token's rights, so a read-only token stays read-only and a revoked one is refused
      // whatever the mode.
      if (!value) {
        if (required || !addressedToLoopback(host)) return null;
        const owner = await tokenlessOwner();
        return { tokenName: null, tokenId: null, readOnly: false, authRequired: false, userId: owner.id, admin: owner.admin };
      }
      const token = /^Bearer\s+(\S+)$/i.exec(value)?.[1];
      const verified = token ? await tokens.verify(token) : null;
      return verified && { tokenName: verified.name, tokenId: verified.id, readOnly: verified.readOnly, authRequired: required, userId: verified.userId, admin: verified.admin };
    },
  };
}
const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);

/** True when only this machine can reach the address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}
