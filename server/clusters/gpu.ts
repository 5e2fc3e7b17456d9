// GPU availability per cluster, cached: any number of readers of a cold or expired cluster share one remote command
// (lru-cache coalesces fetches), a forced refresh is rate-limited, and listeners hear of every fresh
// answer so subscriptions can push without asking the cluster themselves.
//
// The same command reads the asking user's standing (fair share, limits, own GPUs) as their login sees it, so on a
// group server the cache holds one answer per (cluster, login): nobody is shown another's standing, and each
// login's command runs at most once per gpuCacheSeconds however many of its user's screens watch.
import { LRUCache } from 'lru-cache';
import { loginKey, loginOfKey, type ClusterService } from './service.js';
import type { ClusterConfig } from '../config.js';
import { AppError, ClusterUnreachableError, NotFoundError } from '../errors.js';
import { readGpuInventory, summarizeGpuAvailability, type GpuInventory, type GpuSummary } from '../slurm/gpu.js';
import { partitionFacts, type PartitionFacts } from './limits.js';
import type { UserStanding } from '../slurm/standing.js';

// The rows of a GPU summary, as the clusters domain hands them to schema/ (which never reaches into slurm/).
export type { FairShare, GpuLimit, UserStanding } from '../slurm/standing.js';
export type { GpuCounts, GpuPartitionAvailability, GpuTypeAvailability, NodeWithFreeGpus, UnavailableGpuNode } from '../slurm/gpu.js';

export interface GpuAvailability extends GpuSummary {
  cluster: string;
  /** When the cluster answered the command these figures come from. */
  fetchedAt: Date;
  /** The last attempt to read the cluster failed; these are the figures of an earlier one. */
  stale: boolean;
  /** Why the last attempt failed, while stale. */
  lastError: string | null;
  /** Set when a refresh was asked for too soon after the previous one: the cached figures were returned instead. */
  refreshLimitedUntil: Date | null;
  /** The user's standing read by the same command as these figures: live GPU pushes carry it at no extra cost. */
  standing: UserStanding;
}

export type GpuListener = (cluster: string, userId: number, availability: GpuAvailability) => void;

export interface GpuServiceOptions {
  clusters: Pick<ClusterService, 'names' | 'config' | 'transport'>;
  /** At most one forced refresh per cluster and login in this window. */
  minRefreshIntervalMs?: number;
  /** Epoch milliseconds; tests move it to expire entries and refresh windows. */
  clock?: () => number;
}

interface CachedInventory extends GpuInventory {
  fetchedAt: Date;
}

export type GpuService = ReturnType<typeof createGpuService>;


export function createGpuService({ clusters, minRefreshIntervalMs = 10_000, clock = Date.now }: GpuServiceOptions) {
  const listeners = new Set<GpuListener>();
  const lastForcedRefresh = new Map<string, number>();
  const failures = new Map<string, { error: AppError; at: number }>();

  function asTypedError(cluster: string, error: unknown): AppError {
    if (error instanceof AppError) return error;
    return new ClusterUnreachableError(cluster, error instanceof Error ? error.message : String(error));
  }

  async function readCluster(key: string): Promise<CachedInventory> {
    const { cluster, userId } = loginOfKey(key);
    try {
      const inventory = { ...(await readGpuInventory(await clusters.transport(cluster, userId))), fetchedAt: new Date(clock()) };
      failures.delete(key);
      return inventory;
    } catch (error) {
      const typed = asTypedError(cluster, error);
      failures.set(key, { error: typed, at: clock() });
      throw typed;
    }
  }

  // The parsed inventory is cached, not the summary: allowedGpuTypes is applied on each read, so a config edit
  // shows at once. A failed fetch puts the previous inventory back instead of dropping it.
  const inventories = new LRUCache<string, CachedInventory>({
    max: 1000,
    ttl: 60_000,
    perf: { now: clock },
    // Read the clock on every access: a few per request, and a test clock takes effect at once.
    ttlResolution: 0,
    allowStale: false,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: async (key) => {
      const inventory = await readCluster(key);
      notify(key, inventory);
      return inventory;
    },
  });

  // The summary of an inventory, made once per inventory and allowedGpuTypes list (a config edit brings a new list):
  // a hundred phones reading at once would otherwise each re-summarize every node.
  const summaries = new WeakMap<CachedInventory, { allowedGpuTypes: ClusterConfig['allowedGpuTypes']; summary: GpuSummary }>();
  function summaryOf(cluster: string, inventory: CachedInventory): GpuSummary {
    const { allowedGpuTypes } = clusters.config(cluster);
    const cached = summaries.get(inventory);
    if (cached && cached.allowedGpuTypes === allowedGpuTypes) return cached.summary;
    const summary = summarizeGpuAvailability(inventory, { allowedGpuTypes });
    summaries.set(inventory, { allowedGpuTypes, summary });
    return summary;
  }

  const partitionsOf = new WeakMap<CachedInventory, PartitionFacts[]>();

  function present(key: string, inventory: CachedInventory, refreshLimitedUntil: Date | null): GpuAvailability {
    const { cluster } = loginOfKey(key);
    const failure = failures.get(key);
    const stale = failure !== undefined && failure.at >= inventory.fetchedAt.getTime();
    return {
      cluster,
      ...summaryOf(cluster, inventory),
      fetchedAt: inventory.fetchedAt,
      stale,
      lastError: stale ? failure.error.message : null,
      refreshLimitedUntil,
      standing: inventory.standing,
    };
  }

  // A failing listener, or a cluster that left the config meanwhile, must not turn a good answer into an error
  // for the readers waiting on it.
  function notify(key: string, inventory: CachedInventory) {
    if (listeners.size === 0) return;
    const { cluster, userId } = loginOfKey(key);
    let availability: GpuAvailability;
    try {
      availability = present(key, inventory, null);
    } catch {
      return;
    }
    for (const listener of listeners) {
      try {
        listener(cluster, userId, availability);
      } catch {
        continue;
      }
    }
  }

  /** The cached inventory, read now if cold or older than the cluster's gpuCacheSeconds; throws when unreadable. */
  async function cachedInventory(cluster: string, userId: number): Promise<CachedInventory> {
    if (!clusters.names().includes(cluster)) throw new NotFoundError(`no cluster named "${cluster}" in the configuration`);
    const key = loginKey(cluster, userId);
    const inventory = await inventories.fetch(key, { ttl: clusters.config(cluster).gpuCacheSeconds * 1000 });
    if (!inventory) throw failures.get(key)?.error ?? new ClusterUnreachableError(cluster, 'no answer');
    return inventory;
  }

  return {
    /**
     * GPU figures of a cluster, at most gpuCacheSeconds old unless the cluster cannot be reached (then `stale`).
     * `refresh` asks the cluster now, at most once per minRefreshIntervalMs per cluster and login.
     */
    async availability(cluster: string, userId: number, { refresh = false }: { refresh?: boolean } = {}): Promise<GpuAvailability> {
      if (!clusters.names().includes(cluster)) throw new NotFoundError(`no cluster named "${cluster}" in the configuration`);
      const ttl = clusters.config(cluster).gpuCacheSeconds * 1000;
      const key = loginKey(cluster, userId);

      let refreshLimitedUntil: Date | null = null;
      let forceRefresh = false;
      if (refresh) {
        const now = clock();
        const last = lastForcedRefresh.get(key);
        if (last !== undefined && now - last < minRefreshIntervalMs) {
          refreshLimitedUntil = new Date(last + minRefreshIntervalMs);
        } else {
          lastForcedRefresh.set(key, now);
          forceRefresh = true;
        }
      }

      const inventory = await inventories.fetch(key, { ttl, forceRefresh });
      // Rejections are turned into "stale or nothing" by allowStaleOnFetchRejection, for every reader sharing the
      // fetch; the error itself was kept by readCluster.
      if (!inventory) throw failures.get(key)?.error ?? new ClusterUnreachableError(cluster, 'no answer');
      return present(key, inventory, refreshLimitedUntil);
    },

    /**
     * What each partition of a cluster allows and gives by default (./limits.ts), from the same cached check: an
     * empty list when the site does not let scontrol show its partitions. A cluster that cannot be read throws.
     */
    async partitions(cluster: string, userId: number): Promise<PartitionFacts[]> {
      const inventory = await cachedInventory(cluster, userId);
      let facts = partitionsOf.get(inventory);
      if (!facts) partitionsOf.set(inventory, (facts = partitionFacts(inventory)));
      return facts;
    },

    /**
     * Where the user stands on a cluster (fair share, GPU limits, own GPUs: ../slurm/standing.ts), from the same
     * cached check. A cluster that cannot be read throws.
     */
    async standing(cluster: string, userId: number): Promise<UserStanding> {
      return (await cachedInventory(cluster, userId)).standing;
    },

    /** Calls listener after every successful read of any cluster; returns the unsubscribe function. */
    subscribe(listener: GpuListener): () => void {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    /** Drops what is cached, e.g. after a cluster's entry changed in the config. */
    forget(cluster?: string): void {
      if (cluster === undefined) {
        inventories.clear();
        lastForcedRefresh.clear();
        failures.clear();
      } else {
        const ofCluster = (key: string) => loginOfKey(key).cluster === cluster;
        for (const map of [inventories, lastForcedRefresh, failures]) for (const key of [...map.keys()]) if (ofCluster(key)) map.delete(key);
      }
    },
  };
}
