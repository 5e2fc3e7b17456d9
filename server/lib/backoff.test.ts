import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, createBackoff } from './backoff.js';

describe('reconnect backoff', () => {
  it('doubles the ceiling from 1 s up to 60 s', () => {
    expect(Array.from({ length: 9 }, (_, i) => backoffCeilingMs(i + 1, 1000, 60_000))).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(backoffCeilingMs(5000, 1000, 60_000)).toBe(60_000);
    expect(backoffCeilingMs(0, 1000, 60_000)).toBe(0);
  });

  it('waits a random share of the ceiling (full jitter), measured on the clock it is given', () => {
    let clock = 1_000_000;
    const draws = [0.5, 0.25, 0.999, 0];
    const backoff = createBackoff({ random: () => draws.shift()!, now: () => clock });
    expect(backoff.remainingMs()).toBe(0);
    expect(backoff.fail()).toBe(500);
    expect(backoff.nextAttemptAt).toBe(1_000_500);
    expect(backoff.remainingMs()).toBe(500);
    clock += 200;
    expect(backoff.remainingMs()).toBe(300);
    clock += 300;
    expect(backoff.remainingMs()).toBe(0);
    expect(backoff.fail()).toBe(500); // 0.25 × 2 s
    expect(backoff.fail()).toBe(3996); // 0.999 × 4 s
    expect(backoff.fail()).toBe(0); // full jitter may retry at once
    expect(backoff.failures).toBe(4);
  });

  it('starts over after a success', () => {
    let clock = 0;
    const backoff = createBackoff({ random: () => 0.99, now: () => clock });
    for (let i = 0; i < 10; i++) backoff.fail();
    expect(backoff.remainingMs()).toBe(59_400);
    clock += 59_400;
    backoff.succeed();
    expect(backoff.failures).toBe(0);
    expect(backoff.remainingMs()).toBe(0);
    expect(backoff.fail()).toBe(990);
  });

  it('never waits beyond the cap, whatever the random source says', () => {
    const backoff = createBackoff({ random: () => 0.999_999, now: () => 0 });
    const delays = Array.from({ length: 40 }, () => backoff.fail());
    expect(Math.max(...delays)).toBeLessThan(60_000);
    expect(delays.slice(-5).every((delay) => delay >= 59_999)).toBe(true);
  });
});
