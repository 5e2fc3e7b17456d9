// Each HTTP request and each GraphQL operation is logged with one request id: the caller's X-Request-Id when it is a
// sane token (a proxy's or a client's, so its lines and ours can be joined), otherwise one made here; the response
// carries it back. Operations are logged by name and type, with duration and outcome, never their variables or
// document (a launch's variables hold a repository URL, a search holds what a person typed). Query strings are left
// out of the HTTP line for the same reason (GET /graphql?query=…&variables=…).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin, type YogaLogger } from 'graphql-yoga';
import { componentLogger, errorFields, type Logger } from '../lib/log.js';

const log = componentLogger('http');

/** What a request id may be: printable, no spaces, short (it goes into every line of the request and a header). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,128}$/;
// Beside Node's request object rather than on it; gone with the request (a WebSocket's upgrade request lives as long as
// its socket).
const requestIds = new WeakMap<IncomingMessage, string>();

/** The request's id, taken from X-Request-Id when sane, else made; the same for every later call on this request. */
export function requestIdOf(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (!id) {
    const given = req.headers['x-request-id'];
    id = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

export type RequestKind = 'api' | 'static' | 'probe';

/**
 * Gives the request its id (echoed in X-Request-Id) and logs it when the response ends: method, path, status,
 * duration. Static files and probes at debug; the API at debug too unless refused or failed, since its operations
 * have their own line at info.
 */
export function logRequest(req: IncomingMessage, res: ServerResponse, kind: RequestKind): string {
  const requestId = requestIdOf(req);
  res.setHeader('x-request-id', requestId);
  const startedAt = performance.now();
  res.once('close', () => {
    const status = res.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 && kind === 'api' ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    const fields = {
      requestId,
      method: req.method,
      path: (req.url ?? '/').split('?')[0],
      status,
      durationMs: Math.round(performance.now() - startedAt),
      // A request destroyed while its body was read (one over the size limit) has no socket left by now.
      remoteAddress: (req.socket as IncomingMessage['socket'] | null)?.remoteAddress,
      // A response cut off before it ended (the client went away, a stream closed).
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    log[level](fields, 'request');
  });
  return requestId;
}

/** The id of the request an operation came in on (HTTP or the WebSocket's upgrade request); null for the server's own. */
function contextRequestId(context: unknown): string | null {
  const { req, requestId } = (context ?? {}) as OperationContext;
  return requestId ?? (req ? requestIdOf(req) : null);
}

function operationOf(args: ExecutionArgs): { operation: string; type: string } {
  const definition = getOperationAST(args.document, args.operationName);
  return { operation: args.operationName ?? definition?.name?.value ?? 'anonymous', type: definition?.operation ?? 'unknown' };
}

function outcomeOf(result: ExecutionResult): { outcome: 'ok' | 'errors'; errorCodes?: string[] } {
  if (!result.errors?.length) return { outcome: 'ok' };
  return { outcome: 'errors', errorCodes: result.errors.map((error: GraphQLError) => String(error.extensions?.code ?? 'ERROR')) };
}

interface OperationContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  /** An MCP tool's operation: the id of the HTTP request the tool call came in on (server/http/mcp.ts). */
  requestId?: string | null;
}

/**
 * Logs each operation of a client (HTTP, SSE, WebSocket) at info, and counts the subscriptions open over SSE. Put it
 * before any plugin that answers a subscription itself (shared subscriptions): a plugin after it is not told of the
 * result. The server's own executions (a shared group's one subscription) have no request and are neither logged nor
 * counted. A subscription's end is not hooked: envelop would wrap every subscriber's stream for it (a wrapper and a
 * promise per event for each subscriber); an SSE stream ends with its response, and WebSocket subscriptions are
 * counted from graphql-ws's own table (server/http/app.ts).
 */
export function useOperationLog() {
  let streams = 0;
  const plugin: Plugin = {
    // A document refused before it runs (unknown field, over a limit) is an operation's outcome too.
    onValidate({ context, params }) {
      const requestId = contextRequestId(context);
      if (!requestId) return;
      return ({ valid, result }) => {
        if (valid) return;
        const definition = getOperationAST(params.documentAST);
        const errorCodes = result.map((error) => String(error.extensions?.code ?? 'GRAPHQL_VALIDATION_FAILED'));
        log.info({ requestId, operation: definition?.name?.value ?? 'anonymous', type: definition?.operation ?? 'unknown', outcome: 'invalid', errorCodes }, 'operation');
      };
    },
    onExecute({ args }) {
      const requestId = contextRequestId(args.contextValue);
      if (!requestId) return;
      const startedAt = performance.now();
      return {
        onExecuteDone({ result }) {
          const fields = { requestId, ...operationOf(args), durationMs: Math.round(performance.now() - startedAt) };
          if (isAsyncIterable(result)) log.info({ ...fields, outcome: 'streamed' }, 'operation');
          else log.info({ ...fields, ...outcomeOf(result) }, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      const requestId = contextRequestId(args.contextValue);
      if (!requestId) return;
      const startedAt = performance.now();
      return {
        onSubscribeResult({ result }) {
          const fields = { requestId, ...operationOf(args) };
          if (!isAsyncIterable(result)) {
            log.info({ ...fields, durationMs: Math.round(performance.now() - startedAt), ...outcomeOf(result) }, 'operation');
            return;
          }
          log.info({ ...fields, outcome: 'subscribed' }, 'operation');
          const { res } = args.contextValue as OperationContext;
          if (res) {
            streams += 1;
            res.once('close', () => (streams -= 1));
          }
        },
      };
    },
  };
  return {
    plugin,
    /** Subscriptions open now over SSE (with the WebSocket ones, the mc_subscriptions_open gauge). */
    openStreams: () => streams,
  };
}

/** Yoga's own messages (a masked error's original, with its stack) through the http logger instead of console. */
export function yogaLogger(logger: Logger = log): YogaLogger {
  const write =
    (level: 'trace' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const error = args.find((arg): arg is Error => arg instanceof Error);
      const text = args.filter((arg) => typeof arg === 'string').join(' ');
      if (error) logger[level]({ ...errorFields(error) }, text || error.message);
      else logger[level](text);
    };
  // Yoga's debug messages narrate each request's phases ("Parsing request…"): trace, below our own debug lines.
  return { debug: write('trace'), info: write('info'), warn: write('warn'), error: write('error') };
}
