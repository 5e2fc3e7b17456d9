// The one connection of the app to its server: an urql client that sends queries and mutations over HTTP and
// subscriptions over graphql-ws, both carrying the paired token. It also owns what the rest of the app needs to
// know about that connection: whether the server is reachable, when to re-read data after a gap, and when the
// token was refused.
import { Client, fetchExchange, subscriptionExchange, type AnyVariables, type CombinedError, type DocumentInput, type OperationResult } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { createSignal } from 'solid-js';

// Where server/http/hardening.test.ts (and the client's own test) find every operation the app sends.
export { declaredDocuments } from './graphql';

const TOKEN_KEY = 'mc.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  localStorage.removeItem(TOKEN_KEY);
  rememberReadOnly(false);
}

// Whether the paired token is read-only, kept beside it: learnt when pairing (and from Settings' session), or
// from the first refused change of a device paired before the app asked. Screens hide what it may not do.
const READ_ONLY_KEY = 'mc.readOnly';
const [readOnly, setReadOnly] = createSignal(readStoredReadOnly());

function readStoredReadOnly(): boolean {
  try {
    return localStorage.getItem(READ_ONLY_KEY) === '1';
  } catch {
    return false;
  }
}

export function rememberReadOnly(value: boolean): void {
  try {
    if (value) localStorage.setItem(READ_ONLY_KEY, '1');
    else localStorage.removeItem(READ_ONLY_KEY);
  } catch {
    // Private mode without storage: the signal still holds it for this visit.
  }
  setReadOnly(value);
}

/** Whether this device may launch, cancel, archive and the like (its token is not read-only). */
export const canChange = () => !readOnly();

const authorization = () => {
  const token = getToken();
  return token ? `Bearer ${token}` : null;
};

// ---- connectivity -------------------------------------------------------------------------------------------

const [browserOnline, setBrowserOnline] = createSignal(typeof navigator === 'undefined' ? true : navigator.onLine);
const [serverReachable, setServerReachable] = createSignal(true);
/** Bumped whenever events may have been missed (reconnect, back online): live data reads itself again. */
const [generation, setGeneration] = createSignal(0);

export const isOffline = () => !browserOnline() || !serverReachable();
export const resyncGeneration = generation;
export const resync = () => setGeneration((value) => value + 1);

function reached(): void {
  if (!serverReachable()) {
    setServerReachable(true);
    resync();
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('online', () => {
    setBrowserOnline(true);
    resync();
  });
  window.addEventListener('offline', () => setBrowserOnline(false));
}

// ---- authentication failures --------------------------------------------------------------------------------

let onUnauthorized: (() => void) | null = null;
let unauthorizedSignalled = false;

/** The shell decides what a refused token means (open /pair); the data layer only reports it, once per burst. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function unauthorized(): void {
  if (unauthorizedSignalled) return;
  unauthorizedSignalled = true;
  setTimeout(() => (unauthorizedSignalled = false), 1000);
  onUnauthorized?.();
}

// ---- transports ---------------------------------------------------------------------------------------------

const wsUrl = () => {
  const url = new URL('/graphql', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
};

let everConnected = false;

const ws = createWsClient({
  url: wsUrl,
  lazy: true,
  // Keeps the socket through quick route changes instead of reconnecting on every screen.
  lazyCloseTimeout: 5_000,
  // The app lives for days on a phone: never give up, but never wait more than ~15 s between attempts either.
  retryAttempts: Number.POSITIVE_INFINITY,
  shouldRetry: () => true,
  retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** retries, 15_000) * (0.5 + Math.random() / 2))),
  keepAlive: 20_000,
  connectionParams: () => {
    const value = authorization();
    return value ? { authorization: value } : {};
  },
  on: {
    connected: () => {
      reached();
      // Events published while no socket was up are gone, and a screen's query went out over HTTP before its
      // subscription was live: whatever is on screen reads itself again on every (re)connection.
      resync();
      everConnected = true;
    },
    closed: (event) => {
      const code = (event as CloseEvent | undefined)?.code;
      if (code === 4401) return unauthorized();
      // 1000 is the lazy close after the last subscription ended: not a failure.
      if (code !== 1000 && (!everConnected || code === 1006)) setServerReachable(false);
    },
  },
});

export const client = new Client({
  url: '/graphql',
  // The app keeps its own last-known copies (offline cache) and live updates; urql's document cache would only
  // serve stale answers.
  requestPolicy: 'network-only',
  preferGetMethod: false,
  fetchOptions: () => {
    const value = authorization();
    return value ? { headers: { authorization: value } } : {};
  },
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ],
});

// ---- results and errors -------------------------------------------------------------------------------------

export type ErrorKind = 'network' | 'unauthorized' | 'forbidden' | 'graphql' | 'typed';

/** Every failure the screens show: `kind` says what to do about it, `field` names a refused input value. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    readonly typename: string | null = null,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const code = (error: CombinedError) => error.graphQLErrors.map((entry) => entry.extensions?.code).find(Boolean);

function toApiError(error: CombinedError): ApiError {
  const status = (error.response as Response | undefined)?.status;
  if (status === 401 || code(error) === 'UNAUTHENTICATED') {
    unauthorized();
    return new ApiError('This device is not paired with the server (or its token was revoked).', 'unauthorized');
  }
  if (code(error) === 'FORBIDDEN') {
    rememberReadOnly(true);
    return new ApiError('This device is paired read-only: it can watch jobs and manage its own notifications, but not launch, cancel or change anything.', 'forbidden');
  }
  if (error.networkError || (status !== undefined && status >= 500)) {
    setServerReachable(false);
    return new ApiError('The Mission Control server cannot be reached.', 'network');
  }
  return new ApiError(error.graphQLErrors.map((entry) => entry.message).join('; ') || error.message, 'graphql');
}

function settle<T>(result: OperationResult<T>): T {
  if (result.error) throw toApiError(result.error);
  reached();
  return result.data as T;
}

export async function query<T, V extends AnyVariables = AnyVariables>(document: DocumentInput<T, V>, variables: V): Promise<T> {
  return settle(await client.query(document, variables).toPromise());
}

export async function mutate<T, V extends AnyVariables = AnyVariables>(document: DocumentInput<T, V>, variables: V): Promise<T> {
  return settle(await client.mutation(document, variables).toPromise());
}

/**
 * A subscription until the returned function is called. graphql-ws re-subscribes by itself after a dropped
 * socket; only a refused token or a broken document reach `onError`.
 */
export function subscribe<T, V extends AnyVariables = AnyVariables>(
  document: DocumentInput<T, V>,
  variables: V,
  onData: (data: T) => void,
  onError?: (error: ApiError) => void,
): () => void {
  const { unsubscribe } = client.subscription(document, variables).subscribe((result) => {
    if (result.error) {
      const closed = result.error.networkError as unknown as { code?: number } | undefined;
      if (closed?.code === 4401) unauthorized();
      onError?.(closed?.code === 4401 ? new ApiError('This device is not paired with the server.', 'unauthorized') : toApiError(result.error));
      return;
    }
    if (result.data) onData(result.data);
  });
  return unsubscribe;
}

/** A typed failure as the screens show it: its message, its type and, for a refused value, the field. */
export function failure(outcome: { __typename: string; message: string; field?: string }): ApiError {
  return new ApiError(outcome.message, 'typed', outcome.__typename, outcome.field ?? null);
}

/**
 * A union answer (`… Success { data } | … Error`) as its data, narrowed on `__typename`, or its error as an
 * ApiError. `success` must be one of the union's types, and every other one must carry `message` (`...Failure`).
 */
export function unwrap<R extends { __typename: string }, S extends R['__typename']>(
  outcome: R & (Extract<R, { __typename: S }> extends { data: unknown } ? unknown : never) & (Exclude<R, { __typename: S }> extends { message: string } ? unknown : never),
  success: S,
): Extract<R, { __typename: S }> extends { data: infer D } ? D : never {
  if (outcome.__typename === success) return (outcome as unknown as { data: never }).data;
  throw failure(outcome as unknown as { __typename: string; message: string; field?: string });
}

export const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
