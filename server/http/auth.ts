// Who may use the API, at the HTTP and WebSocket doors. Every GraphQL operation needs an API token (HTTP and SSE:
// `Authorization: Bearer`, graphql-ws: connectionParams.authorization), unless the server binds to loopback only and
// the user opted out in config. HTTP and SSE are checked in one Yoga plugin; WebSocket connections in graphql-ws's
// onConnect (see server/http/app.ts), with the same `authenticate` (server/access/session.ts). Read-only tokens are
// enforced in the plugin's onExecute, which both paths run: they read everything and change nothing but their own
// device's push settings.
import { GraphQLError, getOperationAST, Kind, type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Auth, Session } from '../access/session.js';
import type { RevocationWatch } from '../access/tokens.js';

/** graphql-ws's close code for a socket without a valid token. */
export const UNAUTHORIZED_CLOSE_CODE = 4401;
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

/** Why a request was refused, for its answer (GraphQL's and MCP's alike). */
export function unauthenticatedMessage(authorization: string | null | undefined, host: string | null | undefined, auth: Pick<Auth, 'required'>): string {
  return authorization?.trim()
    ? 'unknown or revoked API token'
    : !auth.required
      ? `without a token this server answers only requests addressed to it by a loopback name (localhost, 127.0.0.1, [::1]), and this one was addressed to "${host}": use http://127.0.0.1:<port>, or send a token`
      : 'an API token is required: send `Authorization: Bearer <token>` (create one with `npm run token -- create --name <name>`)';
}

function unauthenticatedResponse(authorization: string | null, host: string | null, auth: Auth, fetchAPI: { Response: typeof Response }): Response {
  const message = unauthenticatedMessage(authorization, host, auth);
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
