// Rate limits on what costs a remote command on demand: reading a job's state from SLURM, reading its log, checking a
// cluster. Each caller (API token) has a token bucket per operation and target (a job, a cluster), so a loop on one job
// is slowed down, and, where the targets are unbounded (jobs), one over all targets, so a query that asks the logs of
// 200 jobs at once gets the first few and a typed refusal for the rest. GPU availability has its own limit
// (server/gpu.ts): it answers from its cache instead of refusing.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Session } from './auth.js';
import { RateLimitedError } from './errors.js';

/** A bucket holds `burst` calls and gains one back every `everySeconds`. */
export interface Bucket {
  burst: number;
  everySeconds: number;
}

export interface Limit {
  perTarget: Bucket;
  perCaller?: Bucket;
}

// A person never comes near these: the log view reads a job's tail when it opens and once more when the job ends;
// refresh and "test connection" are buttons. A script polling refreshJob once a second is still served. What they
// stop is a loop or a query that would run hundreds of commands on the login node, over SSH channels the poller needs.
// Clusters are the few named in the config, and an unknown name costs no command: no bucket over all of them.
export const RATE_LIMITS = {
  refreshJob: { perTarget: { burst: 5, everySeconds: 1 }, perCaller: { burst: 30, everySeconds: 0.5 } },
  log: { perTarget: { burst: 6, everySeconds: 2 }, perCaller: { burst: 30, everySeconds: 0.5 } },
  testClusterConnection: { perTarget: { burst: 3, everySeconds: 5 } },
} satisfies Record<string, Limit>;

export type LimitedOperation = keyof typeof RATE_LIMITS;

export interface RateLimiterOptions {
  limits?: Record<LimitedOperation, Limit>;
  /** Epoch milliseconds; tests move it. */
  clock?: () => number;
  /** Buckets kept per operation; the least recently used is forgotten (a forgotten bucket is a full one). */
  maxBuckets?: number;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

type Buckets = LRUCache<string, { tokens: number; at: number }>;

export function createRateLimiter({ limits = RATE_LIMITS, clock = Date.now, maxBuckets = 10_000 }: RateLimiterOptions = {}) {
  // One cache per operation: a flood of made-up cluster names (no bucket over all clusters bounds it) must not push
  // out, and so refill, the buckets of job logs and refreshes.
  const caches = new Map<LimitedOperation, Buckets>();
  const bucketsOf = (operation: LimitedOperation): Buckets => {
    let cache = caches.get(operation);
    if (!cache) caches.set(operation, (cache = new LRUCache({ max: maxBuckets })));
    return cache;
  };

  const level = (buckets: Buckets, key: string, bucket: Bucket, now: number): number => {
    const state = buckets.get(key);
    return state ? Math.min(bucket.burst, state.tokens + (now - state.at) / (bucket.everySeconds * 1000)) : bucket.burst;
  };

  return {
    /**
     * Counts one call of `operation` on `target` for the session's token, or throws RateLimitedError when either of
     * its buckets is empty. A refused call takes nothing, so a caller that keeps trying is served as soon as it may.
     */
    take(session: Pick<Session, 'tokenName'>, operation: LimitedOperation, target: string | number): void {
      const now = clock();
      const buckets = bucketsOf(operation);
      const caller = session.tokenName ?? '';
      const { perTarget, perCaller } = limits[operation];
      // A target comes from the request (a cluster name may be a megabyte of text): kept as a digest, so a bucket
      // costs the same few bytes whatever was asked. Token names hold no newline.
      const checks = [
        { key: createHash('sha256').update(`${caller}\n${target}`).digest('base64url'), bucket: perTarget },
        ...(perCaller ? [{ key: caller, bucket: perCaller }] : []),
      ].map((check) => ({ ...check, tokens: level(buckets, check.key, check.bucket, now) }));
      const waitSeconds = Math.max(...checks.map(({ tokens, bucket }) => (tokens >= 1 ? 0 : (1 - tokens) * bucket.everySeconds)));
      if (waitSeconds > 0) throw new RateLimitedError(operation, Math.ceil(waitSeconds));
      for (const { key, tokens } of checks) buckets.set(key, { tokens: tokens - 1, at: now });
    },
  };
}
