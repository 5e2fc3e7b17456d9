// One MCP session's server: the tools its token may use (a read-only token gets only the read tools), a job's log, a
// job and a sweep as resources, and a notice when a subscribed job or sweep ends. Everything goes through the
// GraphQL gateway as the session's token, so what an agent may see and do is what the same token may over GraphQL.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Session } from '../access/session.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { ToolError, type GraphQLGateway, type Origin } from './graphql.js';
import { createPreviews } from './previews.js';
import { MAX_LOG_BYTES, readJob, readJobLog, readSweep, type Tool, type ToolContext } from './tools.js';
import { readWatched, watchUntilEnd } from './watch.js';

const log = componentLogger('mcp');

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * What the MCP door tells the tools of the HTTP request a message came in on, through the SDK's per-request auth
 * info: the id its log lines carry.
 */
export interface RequestOrigin {
  requestId: string;
}

/** The SDK's AuthInfo for a request, carrying its origin (the token itself is checked by the door, never here). */
export function authInfoOf(origin: RequestOrigin) {
  return { token: '', clientId: 'mission-control', scopes: [], extra: { origin } };
}

const INSTRUCTIONS = `Mission Control launches and watches ML training jobs on SLURM clusters.
To launch: list_projects, project_form (the Hydra config's groups and parameters), list_clusters and gpu_availability,
then preview_launch or preview_sweep, show the user the script and SLURM's verdict, and only then submit_preview with
the preview's tag. Follow jobs with wait_for_jobs (or subscribe to mission-control://jobs/{id}), read job_log when one
fails, and job_metrics or get_sweep with a metric to compare runs.`;

/** Resources a session may watch at once: each is one subscription inside the server, never a remote command. */
const MAX_WATCHED = 100;
/** wait_for_jobs calls a session may have running at once: a client that times out and retries must not pile them up. */
const MAX_WAITS = 4;

const RESOURCE = /^mission-control:\/\/(jobs|sweeps)\/(\d{1,9})(\/log)?$/;

export interface McpSessionOptions {
  tools: Tool[];
  gateway: GraphQLGateway;
  session: Session;
  version: string;
}

export function createMcpSession({ tools, gateway, session, version }: McpSessionOptions) {
  const server = new McpServer({ name: 'mission-control', title: 'Mission Control', version }, { instructions: INSTRUCTIONS });
  const previews = createPreviews();
  let waits = 0;
  const originOf = (extra: Extra): Origin => {
    const origin = extra.authInfo?.extra?.origin as RequestOrigin | undefined;
    return { session, requestId: origin?.requestId ?? null };
  };

  for (const entry of tools) {
    if (entry.write && session.readOnly) continue;
    server.registerTool(
      entry.name,
      { title: entry.title, description: entry.description, inputSchema: entry.input, annotations: { readOnlyHint: !entry.write, destructiveHint: entry.write, openWorldHint: true } },
      async (args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> => {
        let progressCount = 0;
        const context: ToolContext = {
          gateway,
          origin: originOf(extra),
          previews,
          signal: extra.signal,
          async progress(message) {
            const progressToken = extra._meta?.progressToken;
            if (progressToken === undefined) return;
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: ++progressCount, message } });
          },
          beginWait() {
            if (waits >= MAX_WAITS) throw new ToolError(`this session is waiting in ${MAX_WAITS} calls already: let one end (or cancel it) first`);
            waits += 1;
            return () => void (waits -= 1);
          },
        };
        try {
          const output = await entry.run(args, context);
          return { content: [{ type: 'text', text: JSON.stringify(output.value) }, ...(output.texts ?? []).map((text) => ({ type: 'text' as const, text }))] };
        } catch (error) {
          if (error instanceof ToolError) return { isError: true, content: [{ type: 'text', text: error.message }] };
          log.error({ tool: entry.name, requestId: context.origin.requestId, ...errorFields(error) }, 'tool failed');
          return { isError: true, content: [{ type: 'text', text: `${entry.name} failed inside the server (logged with request id ${context.origin.requestId ?? 'none'})` }] };
        }
      },
    );
  }

  const json = (uri: URL, value: unknown) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value) }] });
  const idOf = (variables: Record<string, string | string[]>) => Number(variables.id);
  server.registerResource(
    'job',
    new ResourceTemplate('mission-control://jobs/{id}', { list: undefined }),
    { title: 'A job', description: "A job's state, timeline and settings (as get_job); subscribe to be told when it ends.", mimeType: 'application/json' },
    async (uri, variables, extra) => json(uri, await readJob({ gateway, origin: originOf(extra) }, idOf(variables))),
  );
  server.registerResource(
    'job-log',
    new ResourceTemplate('mission-control://jobs/{id}/log', { list: undefined }),
    { title: "A job's output", description: `The last ${MAX_LOG_BYTES / 1024} kB of a job's output; subscribe to be told when the job ends (its output is then complete).`, mimeType: 'text/plain' },
    async (uri, variables, extra) => {
      const { text } = await readJobLog({ gateway, origin: originOf(extra) }, idOf(variables), MAX_LOG_BYTES);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    },
  );
  server.registerResource(
    'sweep',
    new ResourceTemplate('mission-control://sweeps/{id}', { list: undefined }),
    { title: "A sweep's table", description: "A sweep's state and its runs (as get_sweep); subscribe to be told when it ends.", mimeType: 'application/json' },
    async (uri, variables, extra) => json(uri, await readSweep({ gateway, origin: originOf(extra) }, idOf(variables))),
  );

  // resources/subscribe: the resource's job or sweep is watched through the same subscription the app uses, and the
  // client is sent notifications/resources/updated when it ends (at once, on the subscribe's own answer stream, when it
  // had already ended).
  const watched = new Map<string, AbortController>();
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const uri = request.params.uri;
    const match = RESOURCE.exec(uri);
    if (!match) throw new McpError(ErrorCode.InvalidParams, `not a resource of this server: ${uri} (mission-control://jobs/{id}, …/jobs/{id}/log, …/sweeps/{id})`);
    if (watched.has(uri)) return {};
    if (watched.size >= MAX_WATCHED) throw new McpError(ErrorCode.InvalidParams, `this session watches ${MAX_WATCHED} resources already: unsubscribe from some first`);
    const kind = match[1] === 'jobs' ? 'job' : 'sweep';
    const id = Number(match[2]);
    const origin = originOf(extra);
    let now;
    try {
      now = await readWatched(gateway, origin, kind, id);
    } catch (error) {
      if (error instanceof ToolError) throw new McpError(ErrorCode.InvalidParams, error.message);
      throw error;
    }
    if (now.ended) {
      await extra.sendNotification({ method: 'notifications/resources/updated', params: { uri } });
      return {};
    }
    const stop = new AbortController();
    watched.set(uri, stop);
    void watchUntilEnd(gateway, origin, kind, id, stop.signal)
      .then(async ({ ended }) => {
        if (ended && watched.get(uri) === stop) await server.server.sendResourceUpdated({ uri });
      })
      // A token revoked ends its session anyway; anything else that ends a watch early is worth a line.
      .catch((error: unknown) => log.warn({ uri, requestId: origin.requestId, ...errorFields(error) }, 'resource watch ended before the end it waited for'))
      .finally(() => {
        if (watched.get(uri) === stop) watched.delete(uri);
      });
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    watched.get(request.params.uri)?.abort();
    watched.delete(request.params.uri);
    return {};
  });

  return {
    server,
    /** Watching a resource or waiting in a call: not idle, however long since its last request. */
    busy: () => watched.size > 0 || waits > 0,
    /** Ends every watch (the session is closing). */
    close() {
      for (const stop of watched.values()) stop.abort();
      watched.clear();
    },
  };
}
