// Who may use the API. Every GraphQL operation needs an API token (HTTP and SSE: `Authorization: Bearer`, graphql-ws:
// connectionParams.authorization), unless the server binds to loopback only and the user opted out in config.
// HTTP and SSE are checked in one Yoga plugin; WebSocket connections in graphql-ws's onConnect (see server/app.ts),
// with the same `authenticate`. Read-only tokens are enforced in the plugin's onExecute, which both paths run: they
// read everything and change nothing but their own device's push settings.
import { networkInterfaces } from 'node:os';
import { relative, resolve } from 'node:path';
import { GraphQLError, getOperationAST, Kind, type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import QRCode from 'qrcode';
import { defaultConfigPath, type ServerConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { RevocationWatch, TokenService } from '../access/tokens.js';

/** What a request is allowed to do; resolvers find it in the context. */
export interface Session {
  /** null when the server runs without tokens (loopback, opted out) and the request sent none. */
  tokenName: string | null;
  /** The token's row, whose revocation ends this session's subscriptions; null as tokenName. */
  tokenId: number | null;
  readOnly: boolean;
  authRequired: boolean;
}

/** graphql-ws's close code for a socket without a valid token. */
export const UNAUTHORIZED_CLOSE_CODE = 4401;

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

export function createAuth({ tokens, required }: { tokens: Pick<TokenService, 'verify' | 'revocation'>; required: boolean }): Auth {
  return {
    required,
    revocation: tokens.revocation,
    async authenticate(authorization, host) {
      const value = authorization?.trim();
      // Without tokens a request that sends none has every right, if it was addressed to loopback; one that sends a
      // token still gets that token's rights, so a read-only token stays read-only and a revoked one is refused
      // whatever the mode.
      if (!value) return required || !addressedToLoopback(host) ? null : { tokenName: null, tokenId: null, readOnly: false, authRequired: false };
      const token = /^Bearer\s+(\S+)$/i.exec(value)?.[1];
      const verified = token ? await tokens.verify(token) : null;
      return verified && { tokenName: verified.name, tokenId: verified.id, readOnly: verified.readOnly, authRequired: required };
    },
  };
}

/** The Authorization value a graphql-ws client put in its connectionParams. */
export function connectionAuthorization(connectionParams: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = connectionParams?.authorization ?? connectionParams?.Authorization;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The mutations a read-only token may run: its own device's Web Push subscription and settings. Notifications are
 * what a read-only phone is for, and they reach the cluster no more than reading does.
 */
const READ_ONLY_MUTATIONS: ReadonlySet<string> = new Set(['registerPushSubscription', 'updatePushSettings', 'unregisterPushSubscription']);

/** Every field an operation asks at its root, fragments followed (a spread must not smuggle a mutation past the check). */
function rootFieldNames(document: DocumentNode, selectionSet: SelectionSetNode): string[] {
  const fragments = new Map(
    document.definitions.filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION).map((fragment) => [fragment.name.value, fragment]),
  );
  const names: string[] = [];
  const spread = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!spread.has(selection.name.value)) {
        spread.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  visit(selectionSet);
  return names;
}

const allowedReadOnly = (name: string) => name === '__typename' || READ_ONLY_MUTATIONS.has(name);

function unauthenticatedResponse(authorization: string | null, host: string | null, auth: Auth, fetchAPI: { Response: typeof Response }): Response {
  const message = authorization?.trim()
    ? 'unknown or revoked API token'
    : !auth.required
      ? `without a token this server answers only requests addressed to it by a loopback name (localhost, 127.0.0.1, [::1]), and this one was addressed to "${host}": use http://127.0.0.1:<port>, or send a token`
      : 'an API token is required: send `Authorization: Bearer <token>` (create one with `npm run token -- create --name <name>`)';
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }), {
    status: 401,
    headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer' },
  });
}

/**
 * The session of an operation: HTTP and SSE requests get theirs from the plugin below (by request); WebSocket
 * operations carry theirs in the initial context that server/app.ts hands to Yoga.
 */
export function createSessions() {
  const byRequest = new WeakMap<Request, Session>();
  return {
    remember: (request: Request, session: Session) => byRequest.set(request, session),
    of(initialContext: { request?: Request; session?: Session }): Session {
      const session = initialContext.session ?? (initialContext.request && byRequest.get(initialContext.request));
      // Unreachable while every transport goes through the plugin or onConnect; refuse rather than guess.
      if (!session) throw new GraphQLError('not authenticated', { extensions: { code: 'UNAUTHENTICATED' } });
      return session;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;

export function useAuth(auth: Auth, sessions: Sessions): Plugin<{ session?: Session }> {
  return {
    // Yoga runs its own onRequest hooks first: CORS preflights, GraphiQL's page and the health check never get here.
    async onRequest({ request, endResponse, fetchAPI }) {
      const authorization = request.headers.get('authorization');
      const host = request.headers.get('host');
      const session = await auth.authenticate(authorization, host);
      if (session) sessions.remember(request, session);
      else endResponse(unauthenticatedResponse(authorization, host, auth, fetchAPI));
    },
    // HTTP (SSE) and WebSocket subscriptions alike: a revoked token's stream ends at once, with an error saying why.
    onSubscribe({ args }) {
      const tokenId = (args.contextValue as { session?: Session }).session?.tokenId;
      if (tokenId === null || tokenId === undefined) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (Symbol.asyncIterator in result) setResult(endOnRevoke(result, tokenId, auth.revocation));
        },
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      const session = (args.contextValue as { session?: Session }).session;
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation' || session?.readOnly === false) return;
      if (session && rootFieldNames(args.document, operation.selectionSet).every(allowedReadOnly)) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(`the token "${session?.tokenName}" is read-only: besides its device's push settings, mutations need a token created without --read-only`, {
            extensions: { code: 'FORBIDDEN' },
          }),
        ],
      });
    },
  };
}

const revokedError = () => new GraphQLError('the API token of this subscription was revoked', { extensions: { code: 'UNAUTHENTICATED' } });

/**
 * A subscription that ends as soon as its token is revoked: the pending wait is cut short (a quiet subscription would
 * otherwise notice only at its next event), and every event is checked against the tokens before it leaves.
 */
export function endOnRevoke(source: AsyncIterable<ExecutionResult>, tokenId: number, revocation: RevocationWatch): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let revoke!: () => void;
  const revoked = new Promise<'revoked'>((resolve) => (revoke = () => resolve('revoked')));
  const unwatch = revocation.watch(tokenId, revoke);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    unwatch();
    // Not awaited: an async generator's return() waits for its pending next(), which may never come.
    void iterator.return?.()?.catch(() => undefined);
  };
  const ended = { done: true, value: undefined } as const;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return ended;
      const pending = iterator.next();
      pending.catch(() => undefined);
      const outcome = await Promise.race([pending, revoked]);
      if (outcome !== 'revoked' && outcome.done) {
        finish();
        return outcome;
      }
      if (outcome === 'revoked' || !(await revocation.stillValid(tokenId))) {
        finish();
        return { done: false, value: { errors: [revokedError()] } };
      }
      return outcome;
    },
    async return() {
      finish();
      return ended;
    },
    async throw(error: unknown) {
      finish();
      throw error;
    },
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);

/** True when only this machine can reach the address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}

export interface AccessOptions {
  server: ServerConfig;
  host: string;
  configPath: string;
  dataDir: string;
}

/** How to run the token CLI against this server's data (and config, for the pairing link). */
export function tokenCommand(args: string, { configPath, dataDir }: Pick<AccessOptions, 'configPath' | 'dataDir'>): string {
  const flags = [
    resolve(dataDir) !== resolve('data') ? ` --data-dir ${relative('.', dataDir) || '.'}` : '',
    resolve(configPath) !== defaultConfigPath() ? ` --config ${relative('.', configPath)}` : '',
  ].join('');
  return `npm run token -- ${args}${flags}`;
}

/**
 * Checks, before the server listens, that the access settings make sense for the address it binds to. Returns
 * whether tokens are required and whether the first one must be created (after listening, so a failed start does
 * not leave behind a token nobody saw).
 */
export async function planAccess(tokens: Pick<TokenService, 'count'>, options: AccessOptions): Promise<{ required: boolean; createFirstToken: boolean }> {
  const { auth } = options.server;
  const loopback = isLoopbackHost(options.host);
  if (auth.allowLoopbackWithoutToken) {
    if (!loopback) {
      throw new ConfigError(
        `${options.configPath}: server.auth.allowLoopbackWithoutToken applies only to a server bound to loopback, and --host is ${options.host}: remove it (then pair with a token) or bind to 127.0.0.1`,
      );
    }
    return { required: false, createFirstToken: false };
  }
  const none = (await tokens.count()) === 0;
  if (none && !auth.createTokenAtFirstStart && !loopback) {
    throw new ConfigError(
      `no API token exists and server.auth.createTokenAtFirstStart is false, so nobody could use a server bound to ${options.host}: run \`${tokenCommand('create --name phone', options)}\` first`,
    );
  }
  return { required: true, createFirstToken: none && auth.createTokenAtFirstStart };
}

/** The address a phone should open: publicUrl, else where the server listens (a LAN address for 0.0.0.0 / ::). */
export function phoneBaseUrl(server: Pick<ServerConfig, 'publicUrl'>, listeningUrl: string): string {
  if (server.publicUrl) return server.publicUrl;
  const url = new URL(listeningUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    if (lan) url.hostname = lan.address;
  }
  return url.origin;
}

/** The link the phone app pairs from: the token travels in the fragment, which browsers never send to a server. */
export const pairingLink = (baseUrl: string, token: string): string => `${baseUrl}/#pair=${token}`;

/** The pairing link and a terminal QR code of it, for a token that was just created (printed once, never again). */
export async function pairingInstructions(name: string, token: string, baseUrl: string, options: { configPath: string; readOnly?: boolean }): Promise<string> {
  const link = pairingLink(baseUrl, token);
  const qr = await QRCode.toString(link, { type: 'terminal', small: true });
  const onlyHere = /^https?:\/\/(localhost|127\.|\[::1\])/.test(baseUrl)
    ? `\nThe link points at ${baseUrl}, which only this machine reaches: set server.publicUrl in ${options.configPath} to the address your phone uses (your tunnel's URL).\n`
    : '';
  return [
    `API token "${name}"${options.readOnly ? ' (read-only)' : ''}, shown only this once:`,
    '',
    `  ${token}`,
    '',
    'Pair your phone: scan this code with its camera, or open the link on it.',
    '',
    `  ${link}`,
    '',
    qr.trimEnd(),
    onlyHere,
  ].join('\n');
}

/** What the server prints about access once it listens (a new token's pairing link only on the first start). */
export async function accessNotice(
  plan: { required: boolean; firstToken?: { name: string; token: string } },
  options: AccessOptions & { url: string },
): Promise<string> {
  if (!plan.required) {
    return 'API tokens are off: this server answers requests from this machine without one (server.auth.allowLoopbackWithoutToken).';
  }
  if (plan.firstToken) {
    const instructions = await pairingInstructions(plan.firstToken.name, plan.firstToken.token, phoneBaseUrl(options.server, options.url), options);
    return `No API token existed yet, so one was created.\n${instructions}\nMore devices: \`${tokenCommand('create --name <name>', options)}\`.`;
  }
  return `API tokens are required. To pair a device: \`${tokenCommand('create --name <name>', options)}\` (list: \`${tokenCommand('list', options)}\`, revoke: \`${tokenCommand('revoke <name>', options)}\`).`;
}
