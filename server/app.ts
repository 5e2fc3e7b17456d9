// The HTTP + WebSocket server: GraphQL (queries over HTTP, subscriptions over graphql-ws or SSE) and the PWA,
// all on one port. The only server file that imports schema/.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga } from 'graphql-yoga';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { schema } from '../schema/index.js';
import { connectionAuthorization, createAuth, createSessions, UNAUTHORIZED_CLOSE_CODE, useAuth } from './auth.js';
import { createRedactor, useRedaction } from './auth-redact.js';
import type { Context, Services } from './services.js';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface AppOptions {
  services: Services;
  /** Built PWA to serve (client/dist); in dev, Vite's middleware is passed as `clientMiddleware` instead. */
  staticDir?: string;
  clientMiddleware?: Middleware;
  graphiql?: boolean;
  access?: {
    /** Answer requests that send no token (server.auth.allowLoopbackWithoutToken; main.ts allows it on loopback only). */
    allowWithoutToken?: boolean;
    /** Browser origins other than the app's own that may call the API (server.corsOrigins). */
    corsOrigins?: string[];
  };
}

/** Largest HTTP body or WebSocket message: a launch form is a few kB; this only stops memory exhaustion. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function createApp({ services, staticDir, clientMiddleware, graphiql = false, access = {} }: AppOptions) {
  const auth = createAuth({ tokens: services.tokens, required: !access.allowWithoutToken });
  const sessions = createSessions();
  const corsOrigins = access.corsOrigins ?? [];
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphiql,
    landingPage: false,
    // Our typed failures are results (the Pothos errors plugin), not errors. Anything thrown is masked, in dev too:
    // an SSH or file system error can name a key path.
    maskedErrors: { isDev: false },
    maxRequestBodySize: MAX_REQUEST_BYTES,
    // No uploads in the schema; multipart is also a body a cross-site form can send without a preflight.
    multipart: false,
    // Yoga's default reflects any origin; an empty list must mean no cross-origin access at all.
    cors: corsOrigins.length ? { origin: corsOrigins, credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'accept'] } : false,
    context: (initial) => ({ em: services.orm.em.fork(), services, session: sessions.of(initial) }),
    plugins: [useAuth(auth, sessions), useRedaction(createRedactor(() => services.clusters.names().map((name) => services.clusters.config(name))))],
  });

  const client: Middleware | undefined =
    clientMiddleware ??
    (staticDir
      ? sirv(staticDir, {
          single: true,
          etag: true,
          // Vite fingerprints everything under assets/, so those may be cached forever.
          setHeaders: (res, pathname) => {
            if (pathname.startsWith('/assets/')) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
            else res.setHeader('Cache-Control', 'no-cache');
          },
        })
      : undefined);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === yoga.graphqlEndpoint || !client) {
      void yoga(req, res);
      return;
    }
    client(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  });

  // Upgrades are routed by hand: a WebSocketServer bound to the server would refuse every other path, and in
  // dev Vite's HMR socket shares this server.
  const webSockets = new WebSocketServer({ noServer: true, maxPayload: MAX_REQUEST_BYTES });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== yoga.graphqlEndpoint) {
      if (!clientMiddleware) socket.destroy();
      return;
    }
    webSockets.handleUpgrade(req, socket, head, (ws) => webSockets.emit('connection', ws, req));
  });
  const wsServer = useServer<Record<string, unknown> | undefined, { authorization?: string }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onConnect: async (ctx) => {
        const authorization = connectionAuthorization(ctx.connectionParams);
        if (!(await auth.authenticate(authorization))) {
          // Returning false alone would close with 4403; a missing or bad token is 4401, which clients re-pair on.
          ctx.extra.socket.close(UNAUTHORIZED_CLOSE_CODE, 'Unauthorized');
          return false;
        }
        ctx.extra.authorization = authorization;
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // Checked again per operation: a token revoked while its socket is open gets no new operation.
        const session = await auth.authenticate(ctx.extra.authorization);
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
        const args: ExecutionArgs = {
          schema: envelopedSchema,
          operationName: payload.operationName,
          document: parse(payload.query),
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
      return `http://${shownHost}:${address.port}`;
    },
    async stop(): Promise<void> {
      await wsServer.dispose();
      webSockets.close();
      // Keep-alive and SSE sockets would otherwise hold close() open for seconds.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type App = ReturnType<typeof createApp>;
