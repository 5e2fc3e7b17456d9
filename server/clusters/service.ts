// Cluster reachability: configured clusters joined with their last connection check. Checks are cached and
// shared (lru-cache fetchMethod), so any number of readers of a cold cluster cause one remote command.
import type { EntityManager } from '@mikro-orm/knex';
import { LRUCache } from 'lru-cache';
import type { ClusterConfig, Config, ConnectionHelp } from '../config.js';
import { ClusterCheck, type PartitionInfo } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { probeCluster } from '../slurm/commands.js';
import type { PubSub } from '../events.js';
import { createTransport, observeTransport, type ConnectionHooks, type StreamingTransport, type TransportObserver } from '../ssh/index.js';

export interface ClusterStatus {
  name: string;
  transport: ClusterConfig['transport'];
  host: string | null;
  /** null while the first check of this cluster is still running. */
  reachable: boolean | null;
  latencyMs: number | null;
  slurmVersion: string | null;
  partitions: PartitionInfo[];
  error: string | null;
  checkedAt: Date | null;
  /** The last job poll failed: job states shown are the last known ones. */
  stale: boolean;
  /** For an OpenSSH ControlMaster cluster whose login expired: the command to run in a terminal. */
  needsReauth: string | null;
  lastPollAt: Date | null;
  lastPollError: string | null;
  /** What to do when the cluster cannot be reached (config's connectionHelp); no secret, checked at load. */
  connectionHelp: ConnectionHelp | null;
}

export interface PollRecord {
  at: Date;
  error: string | null;
  needsReauth: string | null;
}

export interface ClusterServiceOptions {
  orm: Orm;
  config: Config;
  /** How long a check stays fresh; older results are served while a new check runs. */
  checkTtlMs?: number;
  /** How long a reader waits for a cluster's first check before it is shown as still checking. */
  firstCheckWaitMs?: number;
  transportFactory?: (cluster: ClusterConfig, hooks: ConnectionHooks) => StreamingTransport;
  events?: PubSub;
  /** Told of every remote command and SSH connection (the metrics); every command is also logged at debug. */
  observe?: TransportObserver;
}

export type ClusterService = ReturnType<typeof createClusterService>;

export function createClusterService(options: ClusterServiceOptions) {
  const { orm, checkTtlMs = 30_000, firstCheckWaitMs = 3_000, transportFactory = createTransport, events } = options;
  const polls = new Map<string, PollRecord>();

  /** A check's result with what the poller learned since and the cluster's connection help as configured now. */
  function withPoll(status: Omit<ClusterStatus, 'stale' | 'needsReauth' | 'lastPollAt' | 'lastPollError' | 'connectionHelp'>): ClusterStatus {
    const poll = polls.get(status.name);
    const connectionHelp = clusters.get(status.name)?.connectionHelp ?? null;
    return { ...status, stale: Boolean(poll?.error), needsReauth: poll?.needsReauth ?? null, lastPollAt: poll?.at ?? null, lastPollError: poll?.error ?? null, connectionHelp };
  }
  let clusters = new Map(options.config.clusters.map((cluster) => [cluster.name, cluster]));
  const transports = new Map<string, StreamingTransport>();

  function transportFor(cluster: ClusterConfig): StreamingTransport {
    let transport = transports.get(cluster.name);
    if (!transport) {
      transport = observeTransport(cluster.name, options.observe ?? {}, (hooks) => transportFactory(cluster, hooks));
      transports.set(cluster.name, transport);
    }
    return transport;
  }

  function clusterNamed(name: string): ClusterConfig {
    const cluster = clusters.get(name);
    if (!cluster) throw new NotFoundError(`no cluster named "${name}" in the configuration`);
    return cluster;
  }

  async function check(cluster: ClusterConfig): Promise<ClusterStatus> {
    const base = { name: cluster.name, transport: cluster.transport, host: cluster.host ?? null };
    let status: Parameters<typeof withPoll>[0];
    try {
      const probe = await probeCluster(transportFor(cluster));
      status = { ...base, reachable: true, latencyMs: probe.latencyMs, slurmVersion: probe.slurmVersion, partitions: probe.partitions, error: null, checkedAt: new Date() };
    } catch (error) {
      status = { ...base, reachable: false, latencyMs: null, slurmVersion: null, partitions: [], error: (error as Error).message, checkedAt: new Date() };
    }
    const em = orm.em.fork();
    await em.upsert(ClusterCheck, {
      cluster: status.name,
      reachable: status.reachable!,
      latencyMs: status.latencyMs,
      slurmVersion: status.slurmVersion,
      partitions: status.partitions,
      error: status.error,
      checkedAt: status.checkedAt!,
    });
    const full = withPoll(status);
    events?.publish('cluster:status', full);
    return full;
  }

  const checks = new LRUCache<string, ClusterStatus>({
    max: 1000,
    ttl: checkTtlMs,
    allowStale: true,
    fetchMethod: (name) => check(clusterNamed(name)),
  });

  async function lastKnown(em: EntityManager, cluster: ClusterConfig): Promise<ClusterStatus> {
    const row = await em.findOne(ClusterCheck, { cluster: cluster.name });
    return withPoll({
      name: cluster.name,
      transport: cluster.transport,
      host: cluster.host ?? null,
      reachable: null,
      latencyMs: row?.latencyMs ?? null,
      slurmVersion: row?.slurmVersion ?? null,
      partitions: row?.partitions ?? [],
      error: null,
      checkedAt: null,
    });
  }

  async function status(em: EntityManager, name: string): Promise<ClusterStatus> {
    const cluster = clusterNamed(name);
    const pending = checks.fetch(name);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), firstCheckWaitMs);
    });
    const fetched = await Promise.race([pending, waited]).finally(() => clearTimeout(timer));
    return fetched ? withPoll(fetched) : lastKnown(em, cluster);
  }

  return {
    names(): string[] {
      return [...clusters.keys()];
    },
    /** The cluster's configuration; a ValidationError names `field` when the cluster is not configured. */
    config(name: string, field = 'cluster'): ClusterConfig {
      const cluster = clusters.get(name);
      if (!cluster) throw new ValidationError(field, `no cluster named "${name}" in the configuration (${[...clusters.keys()].join(', ') || 'none configured'})`);
      return cluster;
    },
    /** Every transport also streams: the lifecycle watch and live logs hold a command open on it. */
    transport(name: string): StreamingTransport {
      return transportFor(clusterNamed(name));
    },
    list(em: EntityManager): Promise<ClusterStatus[]> {
      return Promise.all([...clusters.keys()].map((name) => status(em, name)));
    },
    status,
    /** Each cluster as last known, without a check or a database read (health and metrics read it often). */
    known(): Array<{ name: string; reachable: boolean | null; stale: boolean; needsReauth: boolean }> {
      return [...clusters.keys()].map((name) => {
        const poll = polls.get(name);
        return { name, reachable: checks.peek(name, { allowStale: true })?.reachable ?? null, stale: Boolean(poll?.error), needsReauth: Boolean(poll?.needsReauth) };
      });
    },
    /** What the poller learned of the cluster; subscribers hear of a change. */
    recordPoll(name: string, record: PollRecord): void {
      const before = polls.get(name);
      polls.set(name, record);
      const cached = checks.get(name, { allowStale: true });
      if (cached && (before?.error !== record.error || before?.needsReauth !== record.needsReauth)) events?.publish('cluster:status', withPoll(cached));
    },
    /** Checks now, whatever the cache holds. */
    async testConnection(name: string): Promise<ClusterStatus> {
      clusterNamed(name);
      return (await checks.fetch(name, { forceRefresh: true }))!;
    },
    /** Starts a check of every cluster in the background, so the first page load finds answers. */
    warmUp(): void {
      for (const name of clusters.keys()) void checks.fetch(name).catch(() => undefined);
    },
    async applyConfig(config: Config): Promise<void> {
      const next = new Map(config.clusters.map((cluster) => [cluster.name, cluster]));
      // Connection help is read at each status: editing it neither reconnects (a new login, a Duo push) nor checks again.
      const connection = (cluster: ClusterConfig | undefined) => JSON.stringify(cluster && { ...cluster, connectionHelp: undefined });
      for (const [name, transport] of transports) {
        if (connection(next.get(name)) !== connection(clusters.get(name))) {
          transports.delete(name);
          checks.delete(name);
          await transport.close();
        }
      }
      clusters = next;
    },
    async close(): Promise<void> {
      checks.clear();
      await Promise.all([...transports.values()].map((transport) => transport.close()));
      transports.clear();
    },
  };
}
