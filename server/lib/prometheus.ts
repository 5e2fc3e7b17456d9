// The server's Prometheus metrics (GET /metrics, server/http/health.ts). One Registry per server, not prom-client's
// global one, so a test process can build several servers and read each one's numbers alone. Counters and histograms
// are updated where things happen; the gauges of state (clusters, jobs, subscriptions) are read when scraped, so
// nothing keeps them up to date between scrapes and a scrape costs one SQL group-by and no remote command.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read at each scrape; set once the services exist (server/services.ts). */
export interface ScrapeSources {
  /** Each configured cluster as last known, without checking it again. */
  clusters(): Array<{ name: string; reachable: boolean | null; stale: boolean; needsReauth: boolean }>;
  /** Tracked jobs counted by normalized state (one group-by). */
  jobsByState(): Promise<Array<{ state: string; count: number }>>;
  /** GraphQL subscriptions open now (HTTP SSE and WebSocket). */
  openSubscriptions(): number;
  /** Agents' MCP sessions open now. */
  mcpSessions(): number;
}

/** A remote command as server/ssh/observed-transport.ts tells of it (lib/ is below ssh/, so the shape is restated). */
interface CommandRecord {
  cluster: string;
  kind: string;
  durationMs: number;
  exitCode: number | null;
  failed: boolean;
}

// Remote commands take from a few ms (a cached read) to minutes (a submit that clones); polls likewise.
const COMMAND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 300];

export function createPrometheus() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sources: Partial<ScrapeSources> = {};

  const pollDuration = new Histogram({
    name: 'mc_poll_duration_seconds',
    help: 'One poll of a cluster (its one remote command and the saving of what changed), by cluster and outcome.',
    labelNames: ['cluster', 'result'] as const,
    buckets: COMMAND_BUCKETS,
    registers: [registry],
  });
  const remoteCommands = new Counter({
    name: 'mc_remote_commands_total',
    help: 'Remote commands run on clusters, by kind (the fixed script) and result: ok (exit 0), exit_nonzero, signal (ended without an exit status: a long-running command stopped), or error (not run: unreachable, timeout, connection lost).',
    labelNames: ['cluster', 'kind', 'result'] as const,
    registers: [registry],
  });
  const remoteCommandDuration = new Histogram({
    name: 'mc_remote_command_duration_seconds',
    help: 'Remote command duration, by cluster and kind.',
    labelNames: ['cluster', 'kind'] as const,
    buckets: COMMAND_BUCKETS,
    registers: [registry],
  });
  const sshConnects = new Counter({
    name: 'mc_ssh_connects_total',
    help: 'SSH connections opened (ssh2 logins, OpenSSH masters opened by the server), by cluster; more than one is a reconnect.',
    labelNames: ['cluster'] as const,
    registers: [registry],
  });
  const notificationsSent = new Counter({
    name: 'mc_notifications_sent_total',
    help: 'Notifications sent, by channel (webpush, ntfy, webhook, email) and result (ok, failed, gone).',
    labelNames: ['channel', 'result'] as const,
    registers: [registry],
  });

  const clusterGauge = (name: string, help: string, value: (cluster: ReturnType<ScrapeSources['clusters']>[number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['cluster'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const cluster of sources.clusters?.() ?? []) {
          const number = value(cluster);
          if (number !== null) this.set({ cluster: cluster.name }, number);
        }
      },
    });
  clusterGauge('mc_cluster_reachable', 'The last connection check reached the cluster (1) or not (0); absent before its first check.', (cluster) =>
    cluster.reachable === null ? null : Number(cluster.reachable),
  );
  clusterGauge('mc_cluster_stale', "The cluster's last poll failed: its jobs' states are the last known ones.", (cluster) => Number(cluster.stale));
  clusterGauge('mc_cluster_needs_reauth', "The cluster's OpenSSH login expired: a person must log in again.", (cluster) => Number(cluster.needsReauth));

  new Gauge({
    name: 'mc_jobs',
    help: 'Jobs the server tracks, by normalized state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const rows = (await sources.jobsByState?.()) ?? [];
      this.reset();
      for (const row of rows) this.set({ state: row.state }, row.count);
    },
  });
  new Gauge({
    name: 'mc_subscriptions_open',
    help: 'GraphQL subscriptions open now (SSE and WebSocket).',
    registers: [registry],
    collect() {
      this.set(sources.openSubscriptions?.() ?? 0);
    },
  });
  new Gauge({
    name: 'mc_mcp_sessions_open',
    help: "Agents' MCP sessions open now (at /mcp, over HTTP or relayed by npm run mcp).",
    registers: [registry],
    collect() {
      this.set(sources.mcpSessions?.() ?? 0);
    },
  });

  return {
    registry,
    pollDuration,
    remoteCommands,
    remoteCommandDuration,
    sshConnects,
    /** Incremented by each notification channel: `notificationsSent.inc({ channel: 'ntfy', result: 'ok' })`. */
    notificationsSent,
    /** Where the scrape-time gauges read from (the services give clusters and jobs, the app its subscriptions). */
    setSources(next: Partial<ScrapeSources>): void {
      sources = { ...sources, ...next };
    },
    /** The observer of every remote command and SSH connection (server/ssh/observed-transport.ts). */
    transportObserver(): { command(record: CommandRecord): void; connected(cluster: string): void } {
      return {
        command: ({ cluster, kind, durationMs, exitCode, failed }) => {
          remoteCommands.inc({ cluster, kind, result: failed ? 'error' : exitCode === 0 ? 'ok' : exitCode === null ? 'signal' : 'exit_nonzero' });
          remoteCommandDuration.observe({ cluster, kind }, durationMs / 1000);
        },
        connected: (cluster) => sshConnects.inc({ cluster }),
      };
    },
    /** For the poller: each poll's duration. */
    observePoll({ cluster, durationMs, ok }: { cluster: string; durationMs: number; ok: boolean }): void {
      pollDuration.observe({ cluster, result: ok ? 'ok' : 'error' }, durationMs / 1000);
    },
    /** The exposition text and its content type, for GET /metrics. */
    async scrape(): Promise<{ body: string; contentType: string }> {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
  };
}

export type Prometheus = ReturnType<typeof createPrometheus>;
