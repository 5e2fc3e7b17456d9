// The HTTP + WebSocket server: GraphQL (queries over HTTP, subscriptions over graphql-ws or SSE), MCP for agents and
// the PWA, all on one port. The only server file that imports schema/.
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLArmorConfig } from '@escape.tech/graphql-armor-types';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type ValidationContext } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type Plugin } from 'graphql-yoga';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { SHARED_DELIVERY } from '../../schema/builder.js';
import { schema } from '../../schema/index.js';
import packageJson from '../../package.json' with { type: 'json' };
import { ownersView } from '../access/ownership.js';
import { createAuth, readerOf, readingAs, type Session } from '../access/session.js';
import { connectionAuthorization, createSessions, UNAUTHORIZED_CLOSE_CODE, useAuth } from './auth.js';
import { createRedactor } from '../lib/redaction.js';
import { clusterSecretFiles } from '../config.js';
import { componentLogger, errorFields } from '../lib/log.js';
import type { GraphQLGateway, Origin } from '../mcp/graphql.js';
import type { McpDoor } from './mcp.js';
import { createOperationsRoutes, OPERATIONS_PATHS, useOperationMetrics, type OperationsOptions } from './health.js';
import { logRequest, requestIdOf, useOperationLog, yogaLogger } from './request-log.js';
import { useRedaction } from './redaction.js';
import { sharedFrames, useSharedSubscriptions } from './shared-subscriptions.js';
import type { TlsPair } from './tls.js';
import type { Context, Services } from '../services.js';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface AppOptions {
  services: Services;
  /** Built PWA to serve (client/dist); in dev, Vite's middleware is passed as `clientMiddleware` instead. */
  staticDir?: string;
  clientMiddleware?: Middleware;
  graphiql?: boolean;
  /** Serve HTTPS with this certificate and key (server.tls); plain HTTP without. */
  tls?: TlsPair;
  access?: {
    /** Answer requests that send no token (server.auth.allowLoopbackWithoutToken; main.ts allows it on loopback only). */
    allowWithoutToken?: boolean;
    /** Browser origins other than the app's own that may call the API (server.corsOrigins). */
    corsOrigins?: string[];
  };
  /** GET /metrics's access (server.metricsAccess, default loopback) and the config's standing for GET /readyz. */
  operations?: Partial<Pick<OperationsOptions, 'metricsAccess' | 'configState' | 'leadership'>>;
}

/** Where agents speak MCP (server/http/mcp.ts). */
export const MCP_PATH = '/mcp';

/** Largest HTTP body or WebSocket message: a launch form is a few kB; this only stops memory exhaustion. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

// Refusals become validation errors of the document (GRAPHQL_VALIDATION_FAILED, all of them listed) instead of an
// exception out of validate(), which graphql-ws would answer by closing the socket.
const reportRefusal = [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)];

/**
 * Limits on a document, checked before anything runs (graphql-armor). The app's own documents need depth 7 (a job's
 * log inside two result unions), cost 14,170 (Home's 60 recent and 200 active jobs: armor multiplies by a literal
 * `first`), 2 aliases, no directive and under 100 tokens; the introspection query needs 163 tokens. Each limit leaves
 * room for the app to grow (server/hardening.test.ts runs every document of the app through them) and refuses what
 * only an attacker sends: deep nesting, hundreds of aliases of one expensive field, a megabyte of tokens.
 */
export const QUERY_LIMITS = {
  maxDepth: { n: 10, propagateOnRejection: false, onReject: reportRefusal },
  costLimit: { maxCost: 25_000, propagateOnRejection: false, onReject: reportRefusal },
  maxAliases: { n: 15, propagateOnRejection: false, onReject: reportRefusal },
  maxDirectives: { n: 10, propagateOnRejection: false, onReject: reportRefusal },
  // Counted while parsing, before any validation context exists: this one throws, as a syntax error does.
  maxTokens: { n: 1_000 },
  // Introspection is open to every token, so hiding "Did you mean …" hides nothing from anyone, and it helps a
  // notebook user with a typo. It never touched our typed errors (results, not validation errors).
  blockFieldSuggestion: { enabled: false },
} satisfies GraphQLArmorConfig;

/**
 * Browsers apply no CORS to WebSockets: any page the user visits can open one here. Without a token (a server that
 * opted out of them) nothing else tells the app from that page, so such a connection must come from the app's own
 * origin or a configured one. Clients other than browsers send no Origin.
 */
function originAllowed(request: IncomingMessage, corsOrigins: string[]): boolean {
  const origin = request.headers.origin;
  if (!origin || corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * Every response's security headers. The app is scripts and styles from its own origin only (the build inlines
 * none, and Solid sets style properties through the CSSOM, which CSP does not govern), talks to its own origin
 * (HTTP, WebSocket), and is never framed (clickjacking a cancel button).
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
/** Vite's dev server injects its own inline module scripts (HMR), so in dev the CSP is left to it. */
const SECURITY_HEADERS_DEV: Record<string, string> = Object.fromEntries(Object.entries(SECURITY_HEADERS).filter(([name]) => name !== 'content-security-policy'));

/** A Host header as HTTP allows it: a name or address and an optional port, nothing that breaks a URL. */
function validHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(host)) return false;
  try {
    new URL(`http://${host}/`);
    return true;
  } catch {
    return false;
  }
}

function refuse(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(message);
}

/** Anything thrown outside GraphQL's own masking: logged here, a bare 500 there (a stack trace names files). */
function failed(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  componentLogger('http').error({ requestId: requestIdOf(req), ...errorFields(error) }, 'request failed');
  refuse(res, 500, 'internal server error');
}

/**
 * Each operation's EntityManager, forked at its first use: most subscribers of a shared subscription never use theirs
 * (4 kB each, 40 MB at 10,000). Defined on the context itself: a context factory's getter would be read as it merges.
 */
/**
 * The request's EntityManager, made when a resolver first asks. A user who is not an admin reads through the owner
 * filter (server/access/ownership.ts): every find, count, update and delete of a project, job, sweep or push device
 * sees only theirs, so another user's id is simply not found.
 */
function useEntityManagerOnDemand(services: Services): Plugin {
  return {
    onContextBuilding({ context }) {
      let em: Context['em'] | undefined;
      Object.defineProperty(context, 'em', { enumerable: true, configurable: true, get: () => (em ??= ownersView(services.orm.em.fork(), (context as Partial<Context>).session)) });
    },
  };
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function createApp({ services, staticDir, clientMiddleware, graphiql = false, tls, access = {}, operations = {} }: AppOptions) {
  const auth = createAuth({ tokens: services.tokens, users: services.users, required: !access.allowWithoutToken });
  const sessions = createSessions();
  const corsOrigins = access.corsOrigins ?? [];
  const operationLog = useOperationLog();
  // Each WebSocket's graphql-ws context, whose `subscriptions` table holds its operations open, read at a scrape.
  const socketContexts = new Set<{ subscriptions: Record<string, unknown> }>();
  const openOverSockets = () => [...socketContexts].reduce((sum, context) => sum + Object.keys(context.subscriptions).length, 0);
  // The MCP door, once loaded, counts its sessions; before, there are none.
  let mcpSessionsOpen = () => 0;
  services.prometheus.setSources({ openSubscriptions: () => operationLog.openStreams() + openOverSockets(), mcpSessions: () => mcpSessionsOpen() });
  const operationsRoutes = createOperationsRoutes({
    orm: services.orm,
    clusters: services.clusters,
    poller: services.poller,
    tokens: services.tokens,
    prometheus: services.prometheus,
    metricsAccess: operations.metricsAccess ?? 'loopback',
    configState: operations.configState,
    leadership: operations.leadership,
  });
  const sharedSubscriptions = useSharedSubscriptions({
    shareable: (field) => field.extensions?.[SHARED_DELIVERY] === true,
    readerOf: (context) => {
      const session = (context as { session?: Session }).session;
      return session ? readerOf(session) : null;
    },
    async subscribeAs(reader, args, markSource) {
      const { contextFactory, subscribe } = yoga.getEnveloped({ session: readingAs(reader) });
      const contextValue = await contextFactory();
      markSource(contextValue);
      return subscribe({ schema: args.schema, document: args.document, operationName: args.operationName, variableValues: args.variableValues, contextValue });
    },
  });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphiql,
    landingPage: false,
    // Our typed failures are results (the Pothos errors plugin), not errors. Anything thrown is masked, in dev too:
    // an SSH or file system error can name a key path.
    maskedErrors: { isDev: false },
    // A masked error's original (with its stack) is logged by Yoga: through our logger, redacted like every line.
    logging: yogaLogger(),
    maxRequestBodySize: MAX_REQUEST_BYTES,
    // No uploads in the schema; multipart is also a body a cross-site form can send without a preflight.
    multipart: false,
    // Yoga's default reflects any origin; an empty list must mean no cross-origin access at all.
    cors: corsOrigins.length ? { origin: corsOrigins, credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'accept'] } : false,
    // `em` is added by useEntityManagerOnDemand.
    context: (initial) => ({ services, session: sessions.of(initial) }) as Context,
    plugins: [
      // First: a plugin after shared subscriptions is not told of a subscriber's result (they answer it themselves).
      operationLog.plugin,
      useOperationMetrics(services.prometheus.registry),
      useEntityManagerOnDemand(services),
      useAuth(auth, sessions),
      // A page on another site can make a browser send a "simple" request (a form post, a GET) without a preflight,
      // so CORS never asks; it cannot add a header. The app sends JSON, a content type that needs a preflight, and
      // Authorization: a request with neither is refused with 403.
      useCSRFPrevention({ requestHeaders: ['authorization', 'x-graphql-yoga-csrf'] }),
      EnvelopArmorPlugin(QUERY_LIMITS),
      // After the token's checks (each subscriber's stream still ends when its token is revoked), before the rest:
      // redaction and masking run once per group of identical subscriptions.
      sharedSubscriptions,
      useRedaction(createRedactor(() => clusterSecretFiles(services.clusters.names().map((name) => services.clusters.config(name))))),
    ],
  });

  /**
   * GraphQL run in this process as an MCP session's token: Yoga's plugins (the token's read-only rule and revocation,
   * the document limits, masking, redaction, the operation log) apply as to a request; only the HTTP part is skipped.
   */
  const enveloped = (origin: Origin, source: string) => {
    const run = yoga.getEnveloped({ session: origin.session, requestId: origin.requestId });
    try {
      const document = run.parse(source);
      const errors = run.validate(run.schema, document);
      return errors.length ? { errors } : { run, document };
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
  };
  const gateway: GraphQLGateway = {
    async execute(origin, source, variableValues) {
      const prepared = enveloped(origin, source);
      if ('errors' in prepared) return { errors: prepared.errors };
      const { run, document } = prepared;
      return (await run.execute({ schema: run.schema, document, variableValues, contextValue: await run.contextFactory() })) as ExecutionResult;
    },
    async subscribe(origin, source, variableValues) {
      const prepared = enveloped(origin, source);
      if ('errors' in prepared) return { errors: prepared.errors };
      const { run, document } = prepared;
      return (await run.subscribe({ schema: run.schema, document, variableValues, contextValue: await run.contextFactory() })) as AsyncIterableIterator<ExecutionResult> | ExecutionResult;
    },
  };
  // Loaded at the first MCP request: the SDK costs a cold start ~170 ms and the idle server ~32 MB that a server no
  // agent talks to should not pay (the build splits it into its own chunk for this).
  let mcpDoor: Promise<McpDoor> | undefined;
  const mcp = () =>
    (mcpDoor ??= import('./mcp.js').then(({ createMcpDoor }) => {
      const door = createMcpDoor({
        auth,
        gateway,
        schema,
        version: packageJson.version,
        maxRequestBytes: MAX_REQUEST_BYTES,
        originAllowed: (req) => originAllowed(req, corsOrigins),
      });
      mcpSessionsOpen = door.size;
      return door;
    }));

  const client: Middleware | undefined =
    clientMiddleware ??
    (staticDir
      ? sirv(staticDir, {
          single: true,
          etag: true,
          // The build writes .br and .gz beside each file: a phone on a slow link gets a third of the bytes.
          brotli: true,
          gzip: true,
          // Vite fingerprints everything under assets/, so those may be cached forever.
          setHeaders: (res, pathname) => {
            if (pathname.startsWith('/assets/')) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
            else res.setHeader('Cache-Control', 'no-cache');
          },
        })
      : undefined);

  const handle: RequestListener = (req, res) => {
    try {
      for (const [name, value] of Object.entries(clientMiddleware ? SECURITY_HEADERS_DEV : SECURITY_HEADERS)) res.setHeader(name, value);
      const path = (req.url ?? '/').split('?')[0]!;
      const probe = (OPERATIONS_PATHS as readonly string[]).includes(path);
      const isMcp = path === MCP_PATH;
      const isApi = !probe && (isMcp || path === yoga.graphqlEndpoint || !client);
      logRequest(req, res, probe ? 'probe' : isApi ? 'api' : 'static');
      // Yoga builds a URL from Host: a malformed one (`Host: a b`) made it answer 500 with a stack trace.
      if (!validHost(req.headers.host)) {
        refuse(res, 400, 'bad request: malformed Host header');
        return;
      }
      if (probe) {
        // Not the PWA's page either when /metrics is off (the static server answers any path with the app).
        if (!operationsRoutes.handle(req, res, path)) refuse(res, 404, 'not found');
        return;
      }
      if (isMcp) {
        void mcp()
          .then((door) => door.handle(req, res))
          .catch((error: unknown) => failed(req, res, error));
        return;
      }
      if (isApi || !client) {
        void Promise.resolve(yoga(req, res)).catch((error: unknown) => failed(req, res, error));
        return;
      }
      client(req, res, () => refuse(res, 404, 'not found'));
    } catch (error) {
      failed(req, res, error);
    }
  };
  const server = tls ? createHttpsServer({ ...tls }, handle) : createServer(handle);

  // Upgrades are routed by hand: a WebSocketServer bound to the server would refuse every other path, and in
  // dev Vite's HMR socket shares this server.
  const frames = sharedFrames(sharedSubscriptions.payloadBytes);
  const webSockets = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES, WebSocket: frames.WebSocket });
  server.on('upgrade', (req, socket, head) => {
    if (!validHost(req.headers.host)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if ((req.url ?? '').split('?')[0] !== yoga.graphqlEndpoint) {
      if (!clientMiddleware) socket.destroy();
      return;
    }
    webSockets.handleUpgrade(req, socket, head, (ws) => webSockets.emit('connection', ws, req));
  });
  const wsServer = useServer<Record<string, unknown> | undefined, { authorization?: string }>(
    {
      // A shared subscription's event is serialized once for all its subscribers (see sharedFrames).
      jsonMessageReplacer: frames.replacer,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onClose: (ctx) => void socketContexts.delete(ctx),
      onConnect: async (ctx) => {
        const authorization = connectionAuthorization(ctx.connectionParams);
        // Only where no token is needed: elsewhere a connection without one is refused below anyway (graphql-ws closes
        // with 4403 Forbidden here).
        if (!auth.required && !authorization?.trim() && !originAllowed(ctx.extra.request, corsOrigins)) return false;
        const session = await auth.authenticate(authorization, ctx.extra.request.headers.host);
        if (!session) {
          // Returning false alone would close with 4403; a missing or bad token is 4401, which clients re-pair on.
          ctx.extra.socket.close(UNAUTHORIZED_CLOSE_CODE, 'Unauthorized');
          return false;
        }
        ctx.extra.authorization = authorization;
        if (session.tokenId !== null) {
          const socket = ctx.extra.socket;
          const unwatch = auth.revocation.watch(session.tokenId, () => socket.close(UNAUTHORIZED_CLOSE_CODE, 'API token revoked'));
          socket.once('close', unwatch);
        }
        // A socket that closed while its token was checked has had its onClose already.
        if (ctx.extra.socket.readyState === ctx.extra.socket.OPEN) socketContexts.add(ctx);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // Checked again per operation: a token revoked while its socket is open gets no new operation.
        const session = await auth.authenticate(ctx.extra.authorization, ctx.extra.request.headers.host);
        if (!session) {
          ctx.extra.socket.close(UNAUTHORIZED_CLOSE_CODE, 'Unauthorized');
          return [new GraphQLError('unknown or revoked API token', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        const { schema: envelopedSchema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          session,
        });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // A syntax error or too many tokens is this operation's error, as over HTTP; thrown, graphql-ws would close
          // the socket with 4500 and every other operation on it.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema: envelopedSchema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    webSockets,
  );

  return {
    yoga,
    server,
    /** MCP sessions open now (none before the first /mcp request loads the door). */
    async mcpSessions(): Promise<number> {
      return mcpDoor ? (await mcpDoor).size() : 0;
    },
    /** Groups of identical subscriptions being served, each by one execution per event. */
    subscriptionGroups: sharedSubscriptions.groups,
    async start(port: number, host: string): Promise<string> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
    },
    /** A renewed certificate: used from the next handshake on; connections already open keep theirs. */
    setTls(pair: TlsPair): void {
      if (!('setSecureContext' in server)) throw new Error('this server was started without server.tls');
      server.setSecureContext({ ...pair });
    },
    async stop(): Promise<void> {
      await mcpDoor?.then((door) => door.close(), () => undefined);
      await wsServer.dispose();
      webSockets.close();
      // Keep-alive and SSE sockets would otherwise hold close() open for seconds.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type App = ReturnType<typeof createApp>;
