// The MCP door: Streamable HTTP at /mcp on the app's port, for agents (server/http/app.ts loads it at the first request). Every request is authenticated as a GraphQL
// request is (the same tokens, the same loopback rule without them); a session belongs to the token that opened it
// and ends when that token is revoked. The tools run as GraphQL operations of that token (server/mcp/), so the
// read-only rule, the rate limits, masking and redaction are the ones GraphQL applies.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Auth } from '../access/session.js';
import type { GraphQLGateway } from '../mcp/graphql.js';
import { authInfoOf, createMcpSession } from '../mcp/server.js';
import { createTools } from '../mcp/tools.js';
import { unauthenticatedMessage } from './auth.js';
import { requestIdOf } from './request-log.js';

/**
 * Sessions kept at once, and how long one may sit unused. An agent's session lasts a conversation; one that never
 * says goodbye (DELETE) is forgotten after a day, and past the cap the least recently used goes first (its client
 * gets 404 and initializes again, as the protocol says).
 */
const MAX_SESSIONS = 200;
const IDLE_MS = 24 * 3600_000;

interface OpenSession {
  transport: StreamableHTTPServerTransport;
  tokenId: number | null;
  close(): void;
}

class RequestBodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The JSON body of a POST, refused past maxBytes (a tool call is a few kB; this only stops memory exhaustion). */
async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new RequestBodyError(413, `the request body is over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestBodyError(400, 'the request body is not JSON');
  }
}

/** A refusal as the protocol's clients read it: a JSON-RPC error with no id. */
function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

export interface McpDoorOptions {
  auth: Auth;
  gateway: GraphQLGateway;
  schema: GraphQLSchema;
  version: string;
  maxRequestBytes: number;
}

export function createMcpDoor({ auth, gateway, schema, version, maxRequestBytes }: McpDoorOptions) {
  const tools = createTools(schema);
  const sessions = new LRUCache<string, OpenSession>({ max: MAX_SESSIONS, ttl: IDLE_MS, updateAgeOnGet: true, ttlAutopurge: true, dispose: (open) => open.close() });

  async function open(session: NonNullable<Awaited<ReturnType<Auth['authenticate']>>>, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const mcp = createMcpSession({ tools, gateway, session, version });
    let closed = false;
    let unwatch = () => {};
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions.set(id, entry);
        // A revoked token's session ends at once, its open stream included.
        if (session.tokenId !== null) unwatch = auth.revocation.watch(session.tokenId, () => sessions.delete(id));
      },
      onsessionclosed: (id) => void sessions.delete(id),
    });
    const entry: OpenSession = {
      transport,
      tokenId: session.tokenId,
      close() {
        if (closed) return;
        closed = true;
        unwatch();
        mcp.close();
        void transport.close();
      },
    };
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      entry.close();
    };
    await mcp.server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  return {
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      // The tools' operations are logged with this request's id: the SDK hands a request's `auth` to the handlers.
      (req as IncomingMessage & { auth?: unknown }).auth = authInfoOf({ requestId: requestIdOf(req) });
      const authorization = req.headers.authorization;
      const session = await auth.authenticate(authorization, req.headers.host);
      if (!session) {
        refuse(res, 401, unauthenticatedMessage(authorization, req.headers.host, auth), { 'www-authenticate': 'Bearer' });
        return;
      }
      let body: unknown;
      if (req.method === 'POST') {
        try {
          body = await readJsonBody(req, maxRequestBytes);
        } catch (error) {
          if (!(error instanceof RequestBodyError)) throw error;
          refuse(res, error.status, error.message);
          return;
        }
      }
      const sessionId = req.headers['mcp-session-id'];
      if (typeof sessionId === 'string') {
        const known = sessions.get(sessionId);
        if (!known) refuse(res, 404, 'unknown or expired MCP session: initialize a new one');
        else if (known.tokenId !== session.tokenId) refuse(res, 403, 'this MCP session was opened with another token');
        else await known.transport.handleRequest(req, res, body);
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        refuse(res, 400, 'no MCP session: POST an initialize request (without Mcp-Session-Id) first');
        return;
      }
      await open(session, req, res, body);
    },
    /** Sessions open now. */
    size: () => sessions.size,
    close(): void {
      sessions.clear();
    },
  };
}

export type McpDoor = ReturnType<typeof createMcpDoor>;
