// The HTTP + WebSocket server: GraphQL (queries over HTTP, subscriptions over graphql-ws or SSE) and the PWA,
// all on one port. The only server file that imports schema/.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga } from 'graphql-yoga';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { schema } from '../schema/index.js';
import type { Context, Services } from './services.js';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface AppOptions {
  services: Services;
  /** Built PWA to serve (client/dist); in dev, Vite's middleware is passed as `clientMiddleware` instead. */
  staticDir?: string;
  clientMiddleware?: Middleware;
  graphiql?: boolean;
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export function createApp({ services, staticDir, clientMiddleware, graphiql = false }: AppOptions) {
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphiql,
    landingPage: false,
    context: () => ({ em: services.orm.em.fork(), services }),
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
  const webSockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== yoga.graphqlEndpoint) {
      if (!clientMiddleware) socket.destroy();
      return;
    }
    webSockets.handleUpgrade(req, socket, head, (ws) => webSockets.emit('connection', ws, req));
  });
  const wsServer = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const { schema: envelopedSchema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
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
