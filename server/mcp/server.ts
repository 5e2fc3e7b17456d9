// One MCP session's server: the tools its token may use (a read-only token gets only the read tools), a job's log, a
// job and a sweep as resources, and a notice when a subscribed job or sweep ends. Everything goes through the
// GraphQL gateway as the session's token, so what an agent may see and do is what the same token may over GraphQL.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Session } from '../access/session.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { query, successOf, ToolError, type GraphQLGateway, type Origin } from './graphql.js';
import { createPreviews } from './previews.js';
import { FINAL_JOB_STATES, MAX_LOG_BYTES, readJob, readJobLog, readSweep, type Tool, type ToolContext } from './tools.js';

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
  // client is sent notifications/resources/updated when it ends (at once when it had already ended).
  const watched = new Map<string, AbortController>();
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const uri = request.params.uri;
    const match = RESOURCE.exec(uri);
    if (!match) throw new ToolError(`not a resource of this server: ${uri} (mission-control://jobs/{id}, …/jobs/{id}/log, …/sweeps/{id})`);
    if (watched.has(uri)) return {};
    if (watched.size >= MAX_WATCHED) throw new ToolError(`this session watches ${MAX_WATCHED} resources already: unsubscribe from some first`);
    const stop = new AbortController();
    watched.set(uri, stop);
    const kind = match[1] === 'jobs' ? 'job' : 'sweep';
    // The watch's own errors end it: a job deleted or a token revoked leaves nothing to announce.
    void watchUntilEnd(gateway, originOf(extra), kind, Number(match[2]), stop.signal)
      .then(async (ended) => {
        if (ended && watched.get(uri) === stop) await server.server.sendResourceUpdated({ uri });
      })
      .catch((error: unknown) => log.debug({ uri, ...errorFields(error) }, 'resource watch ended'))
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
    /** Ends every watch (the session is closing). */
    close() {
      for (const stop of watched.values()) stop.abort();
      watched.clear();
    },
  };
}

const WATCHES = {
  job: {
    subscription: 'subscription($id: Int!) { jobUpdated(jobIds: [$id]) { state } }',
    read: 'query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } ... on Error { __typename message } } }',
    ended: (value: { state?: string }) => FINAL_JOB_STATES.has(value.state ?? ''),
    field: 'job',
    event: 'jobUpdated',
  },
  sweep: {
    subscription: 'subscription($id: Int!) { sweepUpdated(sweepIds: [$id]) { endedAt } }',
    read: 'query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { endedAt } } ... on Error { __typename message } } }',
    ended: (value: { endedAt?: string | null }) => Boolean(value.endedAt),
    field: 'sweep',
    event: 'sweepUpdated',
  },
} as const;

/** True once the job or sweep has ended; false when the watch was stopped first. Subscribes before it reads. */
async function watchUntilEnd(gateway: GraphQLGateway, origin: Origin, kind: keyof typeof WATCHES, id: number, signal: AbortSignal): Promise<boolean> {
  const watch = WATCHES[kind];
  const events = await gateway.subscribe(origin, watch.subscription, { id });
  if (!(Symbol.asyncIterator in events)) throw new ToolError(events.errors?.map((error) => error.message).join('; ') ?? 'refused');
  const stopped = new Promise<'stopped'>((resolve) => signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
  try {
    const now = successOf<Record<string, unknown>>((await query(gateway, origin, watch.read, { id }))[watch.field]);
    if (watch.ended(now)) return true;
    for (;;) {
      const next = await Promise.race([events.next(), stopped]);
      if (next === 'stopped' || next.done) return false;
      const value = (next.value.data as Record<string, Record<string, unknown>> | undefined)?.[watch.event];
      if (!value) return false;
      if (watch.ended(value)) return true;
    }
  } finally {
    void events.return?.();
  }
}
