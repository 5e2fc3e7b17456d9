// The MCP door: Streamable HTTP at /mcp on the app's port, for agents (server/http/app.ts loads it at the first
// request). Every request is authenticated as a GraphQL request is (the same tokens, the same loopback rule without
// them); a session belongs to the token that opened it and ends when that token is revoked. The tools run as GraphQL operations of that token (server/mcp/), so the
// read-only rule, the rate limits, masking and redaction are the ones GraphQL applies.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Auth, Session } from '../access/session.js';
import type { GraphQLGateway } from '../mcp/graphql.js';
import { authInfoOf, createMcpSession } from '../mcp/server.js';
import { createTools } from '../mcp/tools.js';
import { unauthenticatedMessage } from './auth.js';
import { requestIdOf } from './request-log.js';

/**
 * Sessions kept at once, per token, and how long one may sit unused. An agent's session lasts a conversation; one that
 * never says goodbye (DELETE) is closed after a day without a request, unless it is waiting for a job or sweep to end.
 * Past a cap the least recently used goes first, the token's own when the token is over its share, so one agent
 * re-initializing in a loop cannot push out the others' sessions (a client whose session is gone gets 404 and
 * initializes again, as the protocol says).
 */
const MAX_SESSIONS = 200;
const MAX_SESSIONS_PER_TOKEN = 20;
const IDLE_MS = 24 * 3600_000;
const IDLE_CHECK_MS = 10 * 60_000;

interface OpenSession {
  transport: StreamableHTTPServerTransport;
  tokenId: number | null;
  lastUsedAt: number;
  /** Watches and waits in progress: a session doing either is not idle. */
  busy(): boolean;
  close(): void;
}

/**
 * The body of a POST, or null when it is over maxBytes (a tool call is a few kB; this only stops memory exhaustion).
 * Past the limit the rest is read and dropped rather than the request destroyed, so the refusal reaches the client.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > maxBytes) return;
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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
  /**
   * Whether a browser's Origin may call: agents send none, and a page of another site must not reach the tools (the
   * protocol asks servers to check it, against DNS rebinding; server/http/app.ts's rule for WebSockets).
   */
  originAllowed(req: IncomingMessage): boolean;
}

export function createMcpDoor({ auth, gateway, schema, version, maxRequestBytes, originAllowed }: McpDoorOptions) {
  const tools = createTools(schema);
  // disposeAfter, not dispose: closing a session's transport calls back into this cache, which must be done with the
  // entry by then.
  const sessions = new LRUCache<string, OpenSession>({ max: MAX_SESSIONS, disposeAfter: (open) => open.close() });
  const idleCheck = setInterval(() => {
    const now = Date.now();
    for (const id of [...sessions.keys()]) {
      const open = sessions.peek(id);
      if (open && now - open.lastUsedAt > IDLE_MS && !open.busy()) sessions.delete(id);
    }
  }, IDLE_CHECK_MS);
  idleCheck.unref();

  /** Makes room for one more session of this token: its own least recently used goes when it holds its share. */
  function makeRoomFor(tokenId: number | null): void {
    const own = [...sessions.rkeys()].filter((id) => sessions.peek(id)?.tokenId === tokenId);
    if (own.length >= MAX_SESSIONS_PER_TOKEN) sessions.delete(own[0]!);
  }

  async function open(session: Session, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    makeRoomFor(session.tokenId);
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
      lastUsedAt: Date.now(),
      busy: () => mcp.busy(),
      close() {
        if (closed) return;
        closed = true;
        unwatch();
        mcp.close();
        void transport.close();
      },
    };
    // Closed from the other side (the transport's own end): forget it. Closed from here, it is forgotten already.
    transport.onclose = () => {
      if (closed) return;
      if (transport.sessionId) sessions.delete(transport.sessionId);
      entry.close();
    };
    await mcp.server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  return {
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (!originAllowed(req)) {
        refuse(res, 403, `a page of another origin (${req.headers.origin}) may not call /mcp`);
        return;
      }
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
        const raw = await readBody(req, maxRequestBytes);
        if (raw === null) {
          refuse(res, 413, `the request body is over ${maxRequestBytes} bytes`, { connection: 'close' });
          return;
        }
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          refuse(res, 400, 'the request body is not JSON');
          return;
        }
      }
      const sessionId = req.headers['mcp-session-id'];
      if (typeof sessionId === 'string') {
        const known = sessions.get(sessionId);
        if (!known) refuse(res, 404, 'unknown or expired MCP session: initialize a new one');
        else if (known.tokenId !== session.tokenId) refuse(res, 403, 'this MCP session was opened with another token');
        else {
          known.lastUsedAt = Date.now();
          await known.transport.handleRequest(req, res, body);
        }
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
      clearInterval(idleCheck);
      sessions.clear();
    },
  };
}

export type McpDoor = ReturnType<typeof createMcpDoor>;
