// Rate limits on what costs a remote command on demand: reading a job's state from SLURM, reading its log, checking a
// cluster. Each caller (API token) has a token bucket per operation and target (a job, a cluster), so a loop on one job
// is slowed down, and, where the targets are unbounded (jobs), one over all targets, so a query that asks the logs of
// 200 jobs at once gets the first few and a typed refusal for the rest. Log reads also spend a budget of bytes: a call
// may ask 4 MiB, and counting calls alone let one query read 30 of them. GPU availability has its own limit
// (server/gpu.ts): it answers from its cache instead of refusing.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Session } from './session.js';
import { RateLimitedError } from '../errors.js';

/** A bucket holds `burst` calls and gains one back every `everySeconds`. */
export interface Bucket {
  burst: number;
  everySeconds: number;
}

export interface Limit {
  perTarget: Bucket;
  perCaller?: Bucket;
  /** A bucket counted in bytes, over all targets: what a caller's reads may ask for. */
  bytesPerCaller?: Bucket;
}

const KiB = 1024;
const MiB = 1024 * KiB;

// A person never comes near these: the log view reads a job's tail when it opens and once more when the job ends;
// refresh and "test connection" are buttons. A script polling refreshJob once a second is still served. What they
// stop is a loop or a query that would run hundreds of commands on the login node, over SSH channels the poller needs.
// Clusters are the few named in the config, and an unknown name costs no command: no bucket over all of them.
// Log bytes: the app reads a job's last 256 kB when its screen opens and once more when the job ends, so 16 MiB is
// 64 screens at once, and 256 kB a second back is a screen a second for as long as anyone taps (a screen every 4 s
// read twice, with ten at once every ten minutes, stays far inside: server/rate-limit.test.ts). A notebook reading
// the most a call may, 4 MiB, is served four at once, then one every 16 s. A read is charged what it asks before it
// runs, so the reads of one query, which run at once, cannot all pass; what the file did not have is given back.
export const RATE_LIMITS = {
  refreshJob: { perTarget: { burst: 5, everySeconds: 1 }, perCaller: { burst: 30, everySeconds: 0.5 } },
  log: {
    perTarget: { burst: 6, everySeconds: 2 },
    perCaller: { burst: 30, everySeconds: 0.5 },
    bytesPerCaller: { burst: 16 * MiB, everySeconds: 1 / (256 * KiB) },
  },
  testClusterConnection: { perTarget: { burst: 3, everySeconds: 5 } },
  // Each test is a message in someone's chat or mailbox: a few taps, then one a minute.
  testNotificationDestination: { perTarget: { burst: 3, everySeconds: 60 } },
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

  /** Gives `amount` back to a bucket, never past its burst. */
  const refill = (buckets: Buckets, key: string, bucket: Bucket, amount: number): void => {
    const now = clock();
    buckets.set(key, { tokens: Math.min(bucket.burst, level(buckets, key, bucket, now) + amount), at: now });
  };

  /**
   * Counts one call of `operation` on `target` for the session's token, and `bytes` against its byte budget when the
   * operation has one; throws RateLimitedError when any of its buckets is short. A refused call takes nothing, so a
   * caller that keeps trying is served as soon as it may. Returns how to give back bytes the call did not use.
   */
  function take(session: Pick<Session, 'tokenName'>, operation: LimitedOperation, target: string | number, bytes = 0): { refund(unusedBytes: number): void } {
    const now = clock();
    const buckets = bucketsOf(operation);
    const caller = session.tokenName ?? '';
    const { perTarget, perCaller, bytesPerCaller } = limits[operation];
    // A target comes from the request (a cluster name may be a megabyte of text): kept as a digest, so a bucket
    // costs the same few bytes whatever was asked. Token names hold no newline, and digests none either, so the
    // byte budget's key is no other bucket's.
    const bytesKey = `${caller}\nbytes`;
    const checks = [
      { key: createHash('sha256').update(`${caller}\n${target}`).digest('base64url'), bucket: perTarget, cost: 1 },
      ...(perCaller ? [{ key: caller, bucket: perCaller, cost: 1 }] : []),
      // More than a whole budget is charged as the whole budget: it is served when the budget is full, not never.
      ...(bytesPerCaller ? [{ key: bytesKey, bucket: bytesPerCaller, cost: Math.min(bytes, bytesPerCaller.burst) }] : []),
    ].map((check) => ({ ...check, tokens: level(buckets, check.key, check.bucket, now) }));
    const waitSeconds = Math.max(...checks.map(({ tokens, bucket, cost }) => (tokens >= cost ? 0 : (cost - tokens) * bucket.everySeconds)));
    if (waitSeconds > 0) throw new RateLimitedError(operation, Math.ceil(waitSeconds));
    for (const { key, tokens, cost } of checks) buckets.set(key, { tokens: tokens - cost, at: now });
    let unrefunded = bytesPerCaller ? Math.min(bytes, bytesPerCaller.burst) : 0;
    return {
      refund(unusedBytes) {
        const amount = Math.min(Math.max(unusedBytes, 0), unrefunded);
        unrefunded -= amount;
        if (bytesPerCaller && amount > 0) refill(buckets, bytesKey, bytesPerCaller, amount);
      },
    };
  }

  return {
    take,
    /**
     * A read of up to `bytes`, charged before it runs and given back what it did not use after: the bytes beyond
     * `usedBytes(result)` (a file shorter than asked), or all of them when the read failed (nothing was sent).
     */
    async read<T>(session: Pick<Session, 'tokenName'>, operation: LimitedOperation, target: string | number, bytes: number, run: () => Promise<T>, usedBytes: (result: T) => number): Promise<T> {
      const charge = take(session, operation, target, bytes);
      let used = 0;
      try {
        const result = await run();
        used = usedBytes(result);
        return result;
      } finally {
        charge.refund(bytes - used);
      }
    },
  };
}
