import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/seeded-random.js';
import { downsample } from './downsample.js';

const series = (values: number[]) => values.map((value, step) => ({ step, value }));

describe('downsample (largest-triangle-three-buckets)', () => {
  it('returns a series under the bound as it is, and at most maxPoints otherwise, first and last kept, in step order', () => {
    expect(downsample(series([1, 2, 3]), 5)).toEqual(series([1, 2, 3]));
    const random = seededRandom(16);
    const long = series(Array.from({ length: 100_000 }, () => random()));
    const kept = downsample(long, 500);
    expect(kept).toHaveLength(500);
    expect(kept[0]).toBe(long[0]);
    expect(kept.at(-1)).toBe(long.at(-1));
    expect(kept.every((point, i) => i === 0 || point.step > kept[i - 1]!.step)).toBe(true);
    expect(downsample(long, 0)).toEqual([]);
    expect(downsample(long, 2)).toEqual([long[0], long.at(-1)]);
  });

  it('keeps a spike that striding would skip', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => Math.sin(i / 500));
    values[4321] = 50;
    values[7777] = -50;
    const kept = downsample(series(values), 100);
    expect(kept.map((p) => p.value)).toContain(50);
    expect(kept.map((p) => p.value)).toContain(-50);
  });

  it('always keeps the lowest and the highest finite point, where LTTB alone keeps a neighbour', () => {
    // Noise on a falling line: at 40 points LTTB keeps a sharp neighbour of the lowest value, not the lowest itself.
    const random = seededRandom(7);
    for (let run = 0; run < 50; run++) {
      const long = series(Array.from({ length: 5_000 }, (_, i) => 2 / (1 + i / 500) + random() * 0.2));
      const values = long.map((point) => point.value);
      const kept = downsample(long, 40);
      expect(kept).toHaveLength(40);
      expect(kept.map((p) => p.value)).toEqual(expect.arrayContaining([Math.min(...values), Math.max(...values)]));
      expect(kept.every((point, i) => i === 0 || point.step > kept[i - 1]!.step)).toBe(true);
    }
  });

  it('keeps NaN and infinite values (the first of each run) and still returns at most maxPoints', () => {
    const values = Array.from({ length: 5_000 }, (_, i) => 1 / (i + 1));
    values[1200] = Number.NaN;
    for (let i = 3000; i < 5000; i++) values[i] = Number.NaN;
    values[2500] = Number.POSITIVE_INFINITY;
    values[2501] = Number.NEGATIVE_INFINITY;
    const kept = downsample(series(values), 50);
    expect(kept.length).toBeLessThanOrEqual(50);
    const steps = kept.filter((p) => !Number.isFinite(p.value)).map((p) => p.step);
    expect(steps).toEqual([1200, 2500, 2501, 3000]);
    // A series of NaN only is thinned evenly, never emptied.
    expect(downsample(series(Array.from({ length: 1000 }, (_, i) => (i % 2 ? Number.NaN : Number.POSITIVE_INFINITY))), 10).length).toBeGreaterThan(0);
  });
});
