// The operator's endpoints: GET /healthz (the process answers and its database takes a write), GET /readyz
// (migrations applied, config valid, poller running; each cluster's standing reported, never a reason to be unready:
// a cluster that is down is the cluster's problem, and restarting this server would not bring it back) and GET
// /metrics (Prometheus, see server/lib/prometheus.ts). Health and readiness need no token, so their bodies hold
// nothing a stranger should not see: states and cluster names, no host, user, path or error text (errors go to the log).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { isLoopbackHost } from '../access/session.js';
import type { TokenService } from '../access/tokens.js';
import type { ClusterService } from '../clusters/service.js';
import type { Config } from '../config.js';
import { proveWritable, type Orm } from '../db/orm.js';
import type { Poller } from '../jobs/poller.js';
import { componentLogger, errorFields } from '../lib/log.js';
import type { Prometheus } from '../lib/prometheus.js';

const log = componentLogger('http');

export const OPERATIONS_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

// A reverse proxy on this machine makes every client look like loopback; these headers are how one says it forwarded.
const FORWARDED_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

export interface OperationsOptions {
  orm: Orm;
  clusters: Pick<ClusterService, 'known'>;
  poller: Pick<Poller, 'running'>;
  tokens: Pick<TokenService, 'verify'>;
  prometheus: Prometheus;
  metricsAccess: NonNullable<Config['server']>['metricsAccess'];
  /** 'reload-refused' after a changed config file was refused: the server runs on the last valid one. */
  configState?: () => 'valid' | 'reload-refused';
  /** This replica's part among a group server's (an embedded server always leads); without it, the leader. */
  leadership?: () => Leadership;
}

/** A replica leads (polls, notifies), follows (serves the API), or lost its lead and must be restarted. */
export type Leadership = 'leader' | 'follower' | 'lost';

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('content-type', typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8');
  // A probe's answer is true only now.
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(typeof body === 'string' ? body : `${JSON.stringify(body)}\n`);
}

/** Handles GET/HEAD of /healthz, /readyz and /metrics; app.ts routes only those paths here. */
export function createOperationsRoutes(options: OperationsOptions) {
  const { orm, clusters, poller, tokens, prometheus, metricsAccess } = options;

  async function healthz(res: ServerResponse): Promise<void> {
    try {
      await proveWritable(orm);
      send(res, 200, { status: 'ok' });
    } catch (error) {
      log.error(errorFields(error), 'health check: the database refused a write');
      send(res, 503, { status: 'failing', database: 'not writable' });
    }
  }

  async function readyz(res: ServerResponse): Promise<void> {
    let migrations: 'applied' | 'pending' | 'unknown';
    try {
      migrations = (await orm.getMigrator().getPendingMigrations()).length === 0 ? 'applied' : 'pending';
    } catch (error) {
      log.error(errorFields(error), 'readiness check: could not read the applied migrations');
      migrations = 'unknown';
    }
    const config = options.configState?.() ?? 'valid';
    const leadership = options.leadership?.() ?? 'leader';
    // A follower polls nothing (the leader does) and serves the API all the same: ready.
    const polling = leadership === 'follower' ? 'follower' : leadership === 'lost' ? 'lost leadership' : poller.running() ? 'running' : 'stopped';
    // A refused reload leaves the last valid config running: still ready, and said so.
    const ready = migrations === 'applied' && (polling === 'running' || polling === 'follower');
    send(res, ready ? 200 : 503, {
      status: ready ? 'ready' : 'not ready',
      checks: { migrations, config, poller: polling },
      clusters: clusters.known().map((cluster) => ({
        name: cluster.name,
        reachable: cluster.reachable,
        stale: cluster.stale,
        needsReauth: cluster.needsReauth,
      })),
    });
  }

  /** Who may scrape, by server.metricsAccess; a refusal says which setting refused. */
  async function metricsRefusal(req: IncomingMessage): Promise<{ status: number; message: string; headers?: Record<string, string> } | null> {
    if (metricsAccess === 'loopback') {
      const forwarded = FORWARDED_HEADERS.some((name) => req.headers[name] !== undefined);
      if (isLoopbackHost(req.socket.remoteAddress ?? '') && !forwarded) return null;
      return { status: 403, message: 'metrics are served to this machine only (server.metricsAccess: loopback; a request a proxy forwarded is not local)\n' };
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization?.trim() ?? '')?.[1];
    if (token && (await tokens.verify(token))) return null;
    return { status: 401, message: 'metrics need an API token (server.metricsAccess: token): send `Authorization: Bearer <token>`\n', headers: { 'www-authenticate': 'Bearer' } };
  }

  async function metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refusal = await metricsRefusal(req);
    if (refusal) {
      send(res, refusal.status, refusal.message, refusal.headers);
      return;
    }
    const { body, contentType } = await prometheus.scrape();
    send(res, 200, body, { 'content-type': contentType });
  }

  return {
    /** True when the path is one of these endpoints (and it was answered); false leaves the request to the app. */
    handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
      if (!(OPERATIONS_PATHS as readonly string[]).includes(path)) return false;
      // Off: as if there were no such path.
      if (path === '/metrics' && metricsAccess === 'off') return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
        return true;
      }
      const answer = path === '/healthz' ? healthz(res) : path === '/readyz' ? readyz(res) : metrics(req, res);
      void answer.catch((error: unknown) => {
        log.error(errorFields(error), `${path} failed`);
        if (!res.headersSent) send(res, 500, 'internal server error\n');
        else res.destroy();
      });
      return true;
    },
  };
}

/**
 * GraphQL operations in the same registry, by Yoga's own plugin: queries and mutations counted and timed by name and
 * type (graphql_envelop_request, _request_duration), their phases timed (parse, validate, execute), errors by phase
 * and path (graphql_envelop_error_result), and the HTTP request's duration (graphql_yoga_http_duration). Not the
 * subscribe phase: each metric on it wraps every subscriber's stream (a promise and a timestamp per event per
 * subscriber), which the fan-out of one change to 10,000 subscribers pays in full; open subscriptions are counted
 * by useOperationLog. Nor WebSocket operations: the app sends its queries and mutations over HTTP and only subscribes
 * over sockets, and the plugin keeps its labels for each operation's context, which a subscription holds for its life
 * (2.6 kB a subscriber, measured at 10,000). The URL label is left out: GET /graphql carries the query and its
 * variables in it.
 */
export function useOperationMetrics(registry: Registry): Plugin {
  return overHttpOnly(usePrometheus({
    registry,
    endpoint: false,
    metrics: {
      graphql_envelop_request: ['execute'],
      graphql_envelop_request_duration: ['execute'],
      graphql_envelop_phase_parse: true,
      graphql_envelop_phase_validate: true,
      graphql_envelop_phase_execute: true,
      graphql_envelop_error_result: ['parse', 'validate', 'context', 'execute'],
      // On by default in Yoga's plugin, so turned off by name: the subscribe phase (above), the context phase (our
      // context is a plain object), a summary that repeats request_duration with quantiles computed at each
      // observation, a walk of each document for deprecated fields (the schema has none), and schema changes (never).
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_yoga_http_duration: true,
    },
    labels: { url: false },
  }));
}

/**
 * The plugin's hooks, and those of the plugins it adds (Yoga's adds envelop's own), skipped for operations that came
 * over a WebSocket (their context carries the socket).
 */
function overHttpOnly(plugin: Plugin): Plugin {
  const overSocket = (payload: { context?: unknown; args?: { contextValue?: unknown } }) => {
    const context = (payload.context ?? payload.args?.contextValue) as { socket?: unknown } | undefined;
    return context?.socket !== undefined;
  };
  const wrapped: Record<string, unknown> = { ...plugin };
  for (const name of ['onParse', 'onValidate', 'onContextBuilding', 'onExecute', 'onSubscribe'] as const) {
    const hook = plugin[name] as ((payload: never) => unknown) | undefined;
    if (hook) wrapped[name] = (payload: never) => (overSocket(payload) ? undefined : hook(payload));
  }
  const init = plugin.onPluginInit;
  if (init) {
    wrapped.onPluginInit = (payload: Parameters<typeof init>[0]) =>
      init({ ...payload, addPlugin: (added: Plugin) => payload.addPlugin(overHttpOnly(added)) } as Parameters<typeof init>[0]);
  }
  return wrapped as Plugin;
}
