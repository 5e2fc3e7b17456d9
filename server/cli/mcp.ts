// `npm run --silent mcp -- --token-file FILE [--url URL]`: Mission Control's MCP tools for an agent that starts its
// tools as processes and speaks to them over stdin/stdout. It serves nothing itself: every message goes to the running
// server's /mcp and back, so the tools, the token's rights and its revocation are the server's, exactly as over
// HTTP. When the server restarts, the session it forgot is opened again with the agent's own initialize.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isInitializedNotification, isInitializeRequest, isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
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

/**
 * Relays MCP messages between stdio and the server. A request the server refuses (a revoked token, the server down) is
 * answered with a JSON-RPC error saying why, so the agent is told instead of waiting.
 */
export async function runMcpProxy({ url, token }: McpProxyOptions, local = new StdioServerTransport()): Promise<void> {
  const endpoint = new URL('/mcp', url);
  let initialize: JSONRPCMessage | undefined;
  let initialized: JSONRPCMessage | undefined;
  let remote: StreamableHTTPClientTransport;

  /**
   * A session on the server. Replaying, it is opened again with the agent's own initialize (the server forgot the
   * last one: it restarted), whose answer the agent already had and does not get twice.
   */
  const open = async (replay: boolean): Promise<StreamableHTTPClientTransport> => {
    const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    let dropAnswerTo = replay && initialize && 'id' in initialize ? initialize.id : undefined;
    let answered = () => {};
    const answer = new Promise<void>((resolve) => (answered = resolve));
    transport.onmessage = (message) => {
      // The negotiated version goes on every later request, as the SDK's own client does.
      const version = (message as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
      if (typeof version === 'string') transport.setProtocolVersion(version);
      if (dropAnswerTo !== undefined && !('method' in message) && 'id' in message && message.id === dropAnswerTo) {
        dropAnswerTo = undefined;
        answered();
        return;
      }
      void local.send(message);
    };
    transport.onerror = (error) => process.stderr.write(`mission-control mcp: ${reasonOf(error)}\n`);
    await transport.start();
    if (replay && initialize) {
      await transport.send(initialize);
      await answer;
      if (initialized) await transport.send(initialized);
    }
    return transport;
  };

  remote = await open(false);
  local.onmessage = (message) => {
    if (isInitializeRequest(message)) initialize = message;
    if (isInitializedNotification(message)) initialized = message;
    const forward = async () => {
      try {
        await remote.send(message);
      } catch (error) {
        if (error instanceof StreamableHTTPError && error.code === 404 && initialize && message !== initialize) {
          await remote.close();
          remote = await open(true);
          await remote.send(message);
          return;
        }
        throw error;
      }
    };
    forward().catch((error: unknown) => {
      const reason = reasonOf(error);
      process.stderr.write(`mission-control mcp: ${reason}\n`);
      if (isJSONRPCRequest(message)) void local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: `Mission Control at ${url.origin}: ${reason}` } });
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
