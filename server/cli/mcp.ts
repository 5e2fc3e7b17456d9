// `npm run --silent mcp -- --token-file FILE [--url URL]`: Mission Control's MCP tools for an agent that starts its
// tools as processes and speaks to them over stdin/stdout. It serves nothing itself: every message goes to the running
// server's /mcp and back, so the tools, the token's rights and its revocation are the server's, exactly as over
// HTTP. When the server restarts, the session it forgot is opened again with the agent's own initialize.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isInitializedNotification, isInitializeRequest, isJSONRPCErrorResponse, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage, type JSONRPCRequest, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../errors.js';

const USAGE = `usage: npm run --silent mcp -- --token-file FILE [--url URL]

  --token-file FILE   a file holding an API token (npm run token -- create --name agent [--read-only]);
                      a file rather than an argument, so the token is not in the process list
  --url URL           the running server (MC_URL, default http://127.0.0.1:$MC_PORT or :4000)

Speaks MCP over stdin and stdout (--silent keeps npm's own lines off stdout); messages on stderr.`;

class UsageError extends AppError {}

export interface McpProxyOptions {
  url: URL;
  token: string;
}

/** The server's own words from a refused request (its JSON-RPC error), else the transport's. */
function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const json = /\{.*\}\s*$/s.exec(text)?.[0];
  try {
    const message = json && (JSON.parse(json) as { error?: { message?: string } }).error?.message;
    if (message) return message;
  } catch {
    // Not the server's JSON: the transport's message as it is.
  }
  return text;
}

const RESTARTED = 'the server restarted during this call, and forgot it: call it again';

/**
 * Relays MCP messages between stdio and the server. A request the server refuses (a revoked token, the server down) is
 * answered with a JSON-RPC error saying why, so the agent is told instead of waiting. When the server has forgotten the
 * session (it restarted), a new one is opened with the agent's own initialize and its resource subscriptions, once for
 * all the calls that found out at the same time; calls that were running on the old one are answered that they were
 * cut off.
 */
export async function runMcpProxy({ url, token }: McpProxyOptions, local = new StdioServerTransport()): Promise<void> {
  const endpoint = new URL('/mcp', url);
  let initialize: JSONRPCRequest | undefined;
  let initialized: JSONRPCMessage | undefined;
  const subscribed = new Set<string>();
  /**
   * The agent's requests on the current session not answered yet: still being sent (retried on a new session if the
   * old one is gone), or sent (running on the server: cut off if it restarts).
   */
  let inFlight = new Map<RequestId, { request: JSONRPCRequest; sent: boolean }>();
  let ownIds = 0;
  const fail = (request: JSONRPCRequest, reason: string) => void local.send({ jsonrpc: '2.0', id: request.id, error: { code: -32000, message: `Mission Control at ${url.origin}: ${reason}` } });

  /** A session on the server; replaying, the agent's initialize and subscriptions again, their answers not relayed. */
  const open = async (replay: boolean): Promise<StreamableHTTPClientTransport> => {
    const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    const own = new Map<RequestId, () => void>();
    transport.onmessage = (message) => {
      // The negotiated version goes on every later request, as the SDK's own client does.
      const version = (message as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
      if (typeof version === 'string') transport.setProtocolVersion(version);
      if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined) {
        const answered = own.get(message.id);
        if (answered) return answered();
        inFlight.delete(message.id);
      }
      void local.send(message);
    };
    transport.onerror = (error) => process.stderr.write(`mission-control mcp: ${reasonOf(error)}\n`);
    await transport.start();
    const ask = async (request: Omit<JSONRPCRequest, 'id'>) => {
      const id = `mission-control-mcp-${++ownIds}`;
      const answer = new Promise<void>((resolve) => own.set(id, resolve));
      await transport.send({ ...request, id } as JSONRPCRequest);
      await answer;
    };
    if (replay && initialize) {
      await ask(initialize);
      if (initialized) await transport.send(initialized);
      for (const uri of subscribed) await ask({ jsonrpc: '2.0', method: 'resources/subscribe', params: { uri } });
    }
    return transport;
  };

  let remote = await open(false);
  let reopening: Promise<void> | undefined;
  const reopen = (forgotten: StreamableHTTPClientTransport): Promise<void> => {
    if (remote !== forgotten) return reopening ?? Promise.resolve();
    reopening ??= (async () => {
      const cutOff = [...inFlight.values()].filter((call) => call.sent);
      inFlight = new Map([...inFlight].filter(([, call]) => !call.sent));
      await forgotten.close().catch(() => undefined);
      remote = await open(true);
      for (const call of cutOff) fail(call.request, RESTARTED);
    })().finally(() => (reopening = undefined));
    return reopening;
  };

  const forward = async (message: JSONRPCMessage) => {
    const request = isJSONRPCRequest(message) ? message : undefined;
    for (let attempt = 0; ; attempt++) {
      if (reopening) await reopening;
      const transport = remote;
      if (request) inFlight.set(request.id, { request, sent: false });
      try {
        await transport.send(message);
        const call = request && inFlight.get(request.id);
        if (call) call.sent = true;
        return;
      } catch (error) {
        if (request) inFlight.delete(request.id);
        const retry = attempt === 0 && initialize !== undefined && message !== initialize;
        if (retry && error instanceof StreamableHTTPError && error.code === 404) await reopen(transport);
        // Cut off by another call's reopening (closing the forgotten session aborts what was still being sent on it).
        else if (!(retry && (reopening || remote !== transport))) throw error;
      }
    }
  };

  local.onmessage = (message) => {
    if (isInitializeRequest(message)) initialize = message as JSONRPCRequest;
    if (isInitializedNotification(message)) initialized = message;
    if (isJSONRPCRequest(message) && message.method === 'resources/subscribe') subscribed.add(String(message.params?.uri));
    if (isJSONRPCRequest(message) && message.method === 'resources/unsubscribe') subscribed.delete(String(message.params?.uri));
    forward(message).catch((error: unknown) => {
      const reason = reasonOf(error);
      process.stderr.write(`mission-control mcp: ${reason}\n`);
      if (isJSONRPCRequest(message)) fail(message, reason);
    });
  };
  const closed = new Promise<void>((resolve) => (local.onclose = resolve));
  await local.start();
  await closed;
  await remote.terminateSession().catch(() => undefined);
  await remote.close();
}

export function proxyOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): McpProxyOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { 'token-file': { type: 'string' }, url: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE);
  const tokenFile = values['token-file'];
  if (!tokenFile) throw new UsageError(`--token-file is required\n\n${USAGE}`);
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`--token-file ${tokenFile}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (!/^mc_\S+$/.test(token)) throw new UsageError(`--token-file ${tokenFile}: holds no API token (one line, mc_…, as \`npm run token -- create\` prints it)`);
  // As ssh does with a key: a token others can read is worth saying, not refusing (the agent would just fail).
  if (statSync(tokenFile).mode & 0o077) process.stderr.write(`mission-control mcp: ${tokenFile} can be read by other users: chmod 600 it\n`);
  const raw = values.url ?? env.MC_URL ?? `http://127.0.0.1:${env.MC_PORT ?? 4000}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url: not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url: must be http:// or https://, not ${url.protocol}`);
  return { url, token };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await runMcpProxy(proxyOptions(process.argv.slice(2)));
  } catch (error) {
    process.stderr.write(`${error instanceof AppError ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
