// How tests talk to a running server: plain HTTP POSTs, as a notebook would, with a real API token. GraphQL errors
// and refused requests fail the test.
import { join } from 'node:path';
import { initOrm } from '../server/db/orm.js';
import { createTokenService, type TokenService } from '../server/access/tokens.js';

/** A fresh token, made the way the CLI makes one; tests send it as a phone or a notebook would. User 1's (the owner) unless given. */
export async function createTestToken(services: { tokens: TokenService }, options: { name?: string; readOnly?: boolean; userId?: number } = {}): Promise<string> {
  const name = options.name ?? `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  return (await services.tokens.create(name, { userId: options.userId ?? 1, readOnly: options.readOnly })).token;
}

/** A token made in a server's database before it starts (a child process), as `npm run token -- create` would. */
export async function createTokenInDataDir(dataDir: string): Promise<string> {
  const orm = await initOrm(join(dataDir, 'mission-control.sqlite'));
  try {
    return await createTestToken({ tokens: createTokenService({ orm }) });
  } finally {
    await orm.close();
  }
}

/** The Authorization header for HTTP and SSE requests (none without a token: a server that opted out of tokens). */
export const authHeaders = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

/** graphql-ws connectionParams carrying the token. */
export const wsConnectionParams = (token: string) => ({ authorization: `Bearer ${token}` });

export function graphqlClient(url: string, token?: string) {
  return async function request<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(`GraphQL errors (HTTP ${response.status}): ${body.errors.map((error) => error.message).join('; ')}`);
    return body.data!;
  };
}
