import { describe, expect, it } from 'vitest';
import { createChannelLimiter } from './channel-limiter.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('channel limiter', () => {
  it('lets the limit through and queues the rest in arrival order', async () => {
    const limiter = createChannelLimiter(2);
    const order: number[] = [];
    const releases = new Map<number, () => void>();
    const take = (id: number) =>
      limiter.acquire().then((release) => {
        order.push(id);
        releases.set(id, release);
      });
    const all = [1, 2, 3, 4, 5].map(take);
    await tick();
    expect(order).toEqual([1, 2]);
    expect(limiter.active).toBe(2);
    expect(limiter.waiting).toBe(3);

    releases.get(2)!();
    await tick();
    expect(order).toEqual([1, 2, 3]);
    releases.get(1)!();
    releases.get(3)!();
    await tick();
    expect(order).toEqual([1, 2, 3, 4, 5]);
    releases.get(4)!();
    releases.get(5)!();
    await Promise.all(all);
    expect(limiter.active).toBe(0);
  });

  it('ignores a second release of the same slot', async () => {
    const limiter = createChannelLimiter(1);
    const release = await limiter.acquire();
    release();
    release();
    expect(limiter.active).toBe(0);
    const again = await limiter.acquire();
    const third = limiter.acquire();
    await tick();
    expect(limiter.waiting).toBe(1);
    again();
    (await third)();
    expect(limiter.active).toBe(0);
  });

  it('hands a released slot to the waiter, not to a caller arriving in the same tick', async () => {
    const limiter = createChannelLimiter(1);
    let inside = 0;
    let most = 0;
    const use = async () => {
      const release = await limiter.acquire();
      inside++;
      most = Math.max(most, inside);
      await tick();
      inside--;
      release();
    };
    const first = await limiter.acquire();
    const waiter = use();
    await tick();
    first();
    const latecomer = use(); // arrives after the release, before the waiter has resumed
    await Promise.all([waiter, latecomer]);
    expect(most).toBe(1);
  });
});
