// Cluster reachability: configured clusters joined with their last connection check. Checks are cached and
// shared (lru-cache fetchMethod), so any number of readers of a cold cluster cause one remote command.
//
// On a group server each user reaches a cluster through their own login (the config's clusters.NAME.logins; the
// entry's own account is the first admin's): connections, checks and what the poller learned are kept per
// (cluster, login), so one user's expired login or wrong key degrades their card alone.
import type { EntityManager } from '@mikro-orm/knex';
import { LRUCache } from 'lru-cache';
import { connectionAs, type ClusterConfig, type Config, type ConnectionHelp } from '../config.js';
import { ClusterCheck, User, type PartitionInfo } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { NoClusterLoginError, NotFoundError, ValidationError } from '../errors.js';
import { probeCluster } from '../slurm/commands.js';
import type { PubSub } from '../events.js';
import { createTransport, observeTransport, type ConnectionHooks, type StreamingTransport, type TransportObserver } from '../ssh/index.js';

export interface ClusterStatus {
  name: string;
  /** Whose view this is: the login facts (stale, needsReauth, lastPoll*, and the check itself) are this user's. */
  userId: number;
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

/** One account on one cluster: the transports, checks and poll records of the same login share its key. */
export interface ClusterLogin {
  key: string;
  connection: ClusterConfig;
}

/** How long the user table is trusted for login lookups (`npm run user` runs in another process). */
const USERS_TTL_MS = 10_000;
/** A user's login to a cluster as one key: what is kept per (cluster, login) here, in the GPU cache, the lifecycle watches and the accounting reads. */
export const loginKey = (cluster: string, userId: number) => `${cluster}\0${userId}`;
export function loginOfKey(key: string): { cluster: string; userId: number } {
  const [cluster, userId] = key.split('\0') as [string, string];
  return { cluster, userId: Number(userId) };
}

export function createClusterService(options: ClusterServiceOptions) {
  const { orm, checkTtlMs = 30_000, firstCheckWaitMs = 3_000, transportFactory = createTransport, events } = options;
  /** What the poller learned, per (cluster, user). */
  const polls = new Map<string, PollRecord>();

  /** A check's result with what the poller learned since and the cluster's connection help as configured now. */
  function withPoll(status: Omit<ClusterStatus, 'stale' | 'needsReauth' | 'lastPollAt' | 'lastPollError' | 'connectionHelp'>): ClusterStatus {
    const poll = polls.get(loginKey(status.name, status.userId));
    const connectionHelp = clusters.get(status.name)?.connectionHelp ?? null;
    return { ...status, stale: Boolean(poll?.error), needsReauth: poll?.needsReauth ?? null, lastPollAt: poll?.at ?? null, lastPollError: poll?.error ?? null, connectionHelp };
  }
  let clusters = new Map(options.config.clusters.map((cluster) => [cluster.name, cluster]));
  /** Open (or opening) connections by login key, with the connection each was made for. */
  const transports = new Map<string, { transport: StreamingTransport; connection: ClusterConfig }>();

  function transportFor(login: ClusterLogin): StreamingTransport {
    let entry = transports.get(login.key);
    if (!entry) {
      const { connection } = login;
      entry = { transport: observeTransport(connection.name, options.observe ?? {}, (hooks) => transportFactory(connection, hooks)), connection };
      transports.set(login.key, entry);
    }
    return entry.transport;
  }

  const users = new LRUCache<'users', { names: Map<number, string>; firstAdminId: number | null }>({
    max: 1,
    ttl: USERS_TTL_MS,
    fetchMethod: async () => {
      const all = await orm.em.fork().find(User, {}, { orderBy: { id: 'asc' } });
      return { names: new Map(all.map((user) => [user.id, user.name])), firstAdminId: all.find((user) => user.admin)?.id ?? null };
    },
  });

  /**
   * The account a user's commands use on a cluster: their own entry under the cluster's `logins`, else the entry's
   * own account when they are the first admin (whose login the config's always was). Anyone else has none.
   */
  async function loginOf(clusterName: string, userId: number): Promise<ClusterLogin> {
    const cluster = clusterNamed(clusterName);
    let known = await users.fetch('users');
    // A user added a moment ago by `npm run user` is not yet in the cached table.
    if (!known!.names.has(userId)) known = await users.fetch('users', { forceRefresh: true });
    const name = known!.names.get(userId);
    const own = name === undefined ? undefined : cluster.logins[name];
    if (own) return { key: `${cluster.name}\0${name}`, connection: connectionAs(cluster, own) };
    if (userId === known!.firstAdminId) return { key: cluster.name, connection: cluster };
    throw new NoClusterLoginError(cluster.name, name ?? `user #${userId}`);
  }

  function clusterNamed(name: string): ClusterConfig {
    const cluster = clusters.get(name);
    if (!cluster) throw new NotFoundError(`no cluster named "${name}" in the configuration`);
    return cluster;
  }

  /** Probes the cluster through the user's own login: what their card shows is what their commands would meet. */
  async function check(cluster: ClusterConfig, userId: number): Promise<ClusterStatus> {
    const base = { name: cluster.name, userId, transport: cluster.transport, host: cluster.host ?? null };
    let status: Parameters<typeof withPoll>[0];
    try {
      const probe = await probeCluster(transportFor(await loginOf(cluster.name, userId)));
      status = { ...base, reachable: true, latencyMs: probe.latencyMs, slurmVersion: probe.slurmVersion, partitions: probe.partitions, error: null, checkedAt: new Date() };
    } catch (error) {
      status = { ...base, reachable: false, latencyMs: null, slurmVersion: null, partitions: [], error: (error as Error).message, checkedAt: new Date() };
      // Without a login nothing was asked.
      if (error instanceof NoClusterLoginError) return withPoll(status);
    }
    // The cluster's last known facts (its version and partitions, shown while a first check runs), kept from the last
    // check that reached it: one login that fails (a wrong key, an expired MFA login) does not erase them for others.
    if (status.reachable) {
      await orm.em.fork().upsert(ClusterCheck, {
        cluster: status.name,
        reachable: true,
        latencyMs: status.latencyMs,
        slurmVersion: status.slurmVersion,
        partitions: status.partitions,
        error: null,
        checkedAt: status.checkedAt!,
      });
    }
    const full = withPoll(status);
    events?.publish('cluster:status', full);
    return full;
  }

  const checks = new LRUCache<string, ClusterStatus>({
    max: 1000,
    ttl: checkTtlMs,
    allowStale: true,
    fetchMethod: (key) => {
      const { cluster, userId } = loginOfKey(key);
      return check(clusterNamed(cluster), userId);
    },
  });

  async function lastKnown(em: EntityManager, cluster: ClusterConfig, userId: number): Promise<ClusterStatus> {
    const row = await em.findOne(ClusterCheck, { cluster: cluster.name });
    return withPoll({
      name: cluster.name,
      userId,
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

  /** The cluster as the user sees it: their login's check and polls. */
  async function status(em: EntityManager, name: string, userId: number): Promise<ClusterStatus> {
    const cluster = clusterNamed(name);
    const pending = checks.fetch(loginKey(name, userId));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), firstCheckWaitMs);
    });
    const fetched = await Promise.race([pending, waited]).finally(() => clearTimeout(timer));
    return fetched ? withPoll(fetched) : lastKnown(em, cluster, userId);
  }

  // A follower of a group server's replicas polls nothing: what the leader's polls learned comes with its
  // announcements (over Redis), so every replica's cards say stale or needs-login alike. Its own are the same news.
  const announced = events?.subscribe('cluster:status');
  if (announced) {
    void (async () => {
      for await (const status of announced) {
        if (!status.lastPollAt) continue;
        const key = loginKey(status.name, status.userId);
        const held = polls.get(key);
        if (held && held.at.getTime() >= status.lastPollAt.getTime()) continue;
        polls.set(key, { at: status.lastPollAt, error: status.lastPollError, needsReauth: status.needsReauth });
      }
    })();
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
    loginOf,
    /** The users who have a login on the cluster: the first admin (the entry's own) and those named under its logins. */
    async usersWithLogin(name: string): Promise<number[]> {
      const cluster = clusterNamed(name);
      const known = (await users.fetch('users'))!;
      const named = [...known.names].filter(([, userName]) => cluster.logins[userName]).map(([id]) => id);
      return [...new Set([...(known.firstAdminId === null ? [] : [known.firstAdminId]), ...named])];
    },
    /**
     * The user's own connection to the cluster (every transport also streams: the lifecycle watch and live logs hold
     * a command open on it). A NoClusterLoginError when the config gives them none.
     */
    async transport(name: string, userId: number): Promise<StreamingTransport> {
      return transportFor(await loginOf(name, userId));
    },
    list(em: EntityManager, userId: number): Promise<ClusterStatus[]> {
      return Promise.all([...clusters.keys()].map((name) => status(em, name, userId)));
    },
    status,
    /**
     * Each cluster as last known, without a check or a database read (health and metrics read it often): reachable
     * when any login's check reached it, stale or needing a login when any login's last poll was.
     */
    known(): Array<{ name: string; reachable: boolean | null; stale: boolean; needsReauth: boolean }> {
      return [...clusters.keys()].map((name) => {
        const ofCluster = (key: string) => loginOfKey(key).cluster === name;
        const records = [...polls].filter(([key]) => ofCluster(key)).map(([, record]) => record);
        const reached = [...checks.keys()].filter(ofCluster).map((key) => checks.peek(key, { allowStale: true })?.reachable ?? null);
        const reachable = reached.includes(true) ? true : reached.includes(false) ? false : null;
        return { name, reachable, stale: records.some((record) => record.error), needsReauth: records.some((record) => record.needsReauth) };
      });
    },
    /**
     * What the poller learned of the cluster over the user's login; their subscribers (and the re-login push) hear of
     * a change, with a fresh check when none is cached (nobody looked at that card lately).
     */
    recordPoll(name: string, userId: number, record: PollRecord): void {
      const key = loginKey(name, userId);
      // A login nothing was known of is presumed working: its first poll is news only if it failed.
      const before = polls.get(key) ?? { error: null, needsReauth: null };
      polls.set(key, record);
      if (before.error === record.error && before.needsReauth === record.needsReauth) return;
      const cached = checks.get(key, { allowStale: true });
      if (cached) events?.publish('cluster:status', withPoll(cached));
      else void checks.fetch(key).catch(() => undefined);
    },
    /** Checks the user's login now, whatever the cache holds. */
    async testConnection(name: string, userId: number): Promise<ClusterStatus> {
      clusterNamed(name);
      return (await checks.fetch(loginKey(name, userId), { forceRefresh: true }))!;
    },
    /** Starts a check of every cluster (the first admin's login) in the background, so the first page load finds answers. */
    warmUp(): void {
      void users
        .fetch('users')
        .then((known) => {
          if (known?.firstAdminId == null) return;
          for (const name of clusters.keys()) void checks.fetch(loginKey(name, known.firstAdminId)).catch(() => undefined);
        })
        .catch(() => undefined);
    },
    async applyConfig(config: Config): Promise<void> {
      const next = new Map(config.clusters.map((cluster) => [cluster.name, cluster]));
      // Connection help is read at each status, and a user's login is its own connection: editing either reconnects
      // no other login (a new login, a Duo push). The cluster's checks are asked again, on demand.
      const comparable = (connection: ClusterConfig | undefined) => JSON.stringify(connection && { ...connection, connectionHelp: undefined, logins: undefined });
      for (const [key, { transport, connection }] of transports) {
        const [name, userName] = key.split('\0') as [string, string | undefined];
        const cluster = next.get(name);
        const own = userName === undefined ? undefined : cluster?.logins[userName];
        const now = userName === undefined ? cluster : own && cluster && connectionAs(cluster, own);
        if (comparable(now) !== comparable(connection)) {
          transports.delete(key);
          for (const check of [...checks.keys()]) if (loginOfKey(check).cluster === name) checks.delete(check);
          await transport.close();
        }
      }
      clusters = next;
    },
    async close(): Promise<void> {
      void announced?.return?.();
      checks.clear();
      await Promise.all([...transports.values()].map(({ transport }) => transport.close()));
      transports.clear();
    },
  };
}
