// Reconnect pacing for a cluster that stopped answering: exponential backoff with full jitter (a random delay
// between 0 and min(cap, base·2^n)), so many servers that lost the same login node do not return in lockstep,
// and a dead host is asked at most once per delay instead of once per caller.

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** A number in [0, 1), Math.random by default; tests pass a fixed one. */
  random?: () => number;
  /** Milliseconds since the epoch, Date.now by default; tests pass a clock they move. */
  now?: () => number;
}

export interface Backoff {
  /** Failed attempts since the last success. */
  readonly failures: number;
  /** When the next attempt may start (epoch ms); 0 while no failure is pending. */
  readonly nextAttemptAt: number;
  /** Milliseconds until the next attempt may start; 0 when it may start now. */
  remainingMs(): number;
  /** Records a failed attempt and returns the delay chosen before the next one. */
  fail(): number;
  succeed(): void;
}

/** The largest delay after the given number of consecutive failures (1 → base). */
export function backoffCeilingMs(failures: number, baseMs: number, capMs: number): number {
  if (failures < 1) return 0;
  // 2 ** 1024 is Infinity, which min() handles; the exponent is capped only to keep the numbers readable.
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 52));
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const { baseMs = 1000, capMs = 60_000, random = Math.random, now = Date.now } = options;
  let failures = 0;
  let nextAttemptAt = 0;
  return {
    get failures() {
      return failures;
    },
    get nextAttemptAt() {
      return nextAttemptAt;
    },
    remainingMs() {
      return nextAttemptAt === 0 ? 0 : Math.max(0, nextAttemptAt - now());
    },
    fail() {
      failures++;
      const delay = Math.floor(random() * backoffCeilingMs(failures, baseMs, capMs));
      nextAttemptAt = now() + delay;
      return delay;
    },
    succeed() {
      failures = 0;
      nextAttemptAt = 0;
    },
  };
}
