// Pairing: the token this device sends, checked with the server's `session` query.
import { stringifyDocument } from '@urql/core';
import { ApiError, getToken, query, rememberReadOnly, setToken } from './client';
import { graphql, type ResultOf } from './graphql';

const SESSION = graphql(`query Session { session { tokenName readOnly authRequired } }`);

export type Session = ResultOf<typeof SESSION>['session'];

export async function fetchSession(): Promise<Session> {
  const { session } = await query(SESSION, {});
  rememberReadOnly(session.readOnly);
  return session;
}

/**
 * Asks the server whether `token` is accepted, without touching the stored one (a wrong paste must not unpair a
 * paired device). Resolves with the session.
 */
export async function checkToken(token: string): Promise<Session> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: stringifyDocument(SESSION) }),
    });
  } catch {
    throw new ApiError('The Mission Control server cannot be reached.', 'network');
  }
  const body = (await response.json().catch(() => ({}))) as { data?: { session?: Session }; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (response.status === 401 || body.errors?.some((error) => error.extensions?.code === 'UNAUTHENTICATED')) {
    throw new ApiError('The server does not accept this token: it may be mistyped, expired or revoked.', 'unauthorized');
  }
  if (body.data?.session) return body.data.session;
  throw new ApiError(body.errors?.map((error) => error.message).join('; ') || `The server answered ${response.status}.`, 'graphql');
}

/** Validates, then stores: the stored token only ever changes to one the server accepted. */
export async function pair(token: string): Promise<Session> {
  const trimmed = token.trim();
  const session = await checkToken(trimmed);
  setToken(trimmed);
  rememberReadOnly(session.readOnly);
  return session;
}

/** The token from a pairing link or a pasted pairing URL (`…/#pair=<token>`), or the text itself when it is one. */
export function tokenFromText(text: string): string {
  const trimmed = text.trim();
  const match = /[#&]pair=([^&\s]+)/.exec(trimmed);
  return match ? decodeURIComponent(match[1]!) : trimmed;
}

export const isPaired = () => getToken() !== null;
