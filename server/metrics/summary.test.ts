// The per-series summary a chart is drawn from: kept batch by batch as points are written, it must be exactly the
// summary rebuilt from the stored points at once (spans merged as the series outgrows them included), hold every point
// in its counts and extremes, and draw only points that were written.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initOrm, type Orm } from '../db/orm.js';
import { dialectOf } from '../db/sql-dialect.js';
import { readSeries, sqlNumber } from './service.js';
import { SUMMARY_SPAN, createSummaries, readBuckets, type Bucket, type StoredPoint } from './summary.js';

let orm: Orm;
beforeAll(async () => {
  orm = await initOrm(':memory:');
});
afterAll(() => orm.close());

let nextJob = 1;

async function store(em: ReturnType<Orm['em']['fork']>, jobId: number, points: readonly StoredPoint[]) {
  const values: unknown[] = [];
  const sql = dialectOf(em);
  const tuples = points.map((point) => {
    values.push(jobId);
    const step = sqlNumber(sql, point.step, values);
    const value = sqlNumber(sql, point.value, values);
    values.push(point.time);
    return `(?, 0, 'loss', ${step}, ${value}, ?)`;
  });
  await em.getConnection().execute(`insert into metric_point (job_id, source_id, name, step, value, time) values ${tuples.join(', ')}`, values, 'run', em.getTransactionContext());
}

/** What two summaries must agree on (which of two equal lowest values is kept may differ; the value may not). */
const shape = (bucket: Bucket) => ({
  k: bucket.k,
  count: bucket.count,
  first: [bucket.first.step, bucket.first.value],
  last: [bucket.last.step, bucket.last.value],
  low: bucket.low?.value ?? null,
  high: bucket.high?.value ?? null,
  odd: bucket.odd ? [bucket.odd.step, String(bucket.odd.value)] : null,
});

// Never -0: SQLite stores it as 0.
const value = fc.oneof({ weight: 20, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((found) => found + 0) }, { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity) });
// Steps as runs write them: mostly rising by small or large strides (which make the summary outgrow its spans), now and
// then the same step again or a restart from an earlier one (a resumed run).
const stride = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 3, arbitrary: fc.integer({ min: 50, max: 5000 }) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2000, max: -1 }) });
const series = fc.array(fc.tuple(stride, value), { minLength: 1, maxLength: 2500 }).map((pairs) => {
  let step = 0;
  return pairs.map(([by, found], index) => ({ step: (step = Math.max(0, step + by)), value: found, time: 1_700_000_000_000 + index }));
});

it('kept batch by batch, a summary is the one rebuilt from the stored points, within its bound of spans', async () => {
  await fc.assert(
    fc.asyncProperty(series, fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }), async (points, sizes) => {
      const jobId = nextJob++;
      const summaries = createSummaries();
      let at = 0;
      for (let index = 0; at < points.length; index++) {
        const batch = points.slice(at, at + sizes[index % sizes.length]!);
        at += batch.length;
        await orm.em.fork().transactional(async (tx) => {
          await store(tx, jobId, batch);
          await summaries.add(tx, [{ jobId, name: 'loss', points: batch }]);
        });
      }
      const kept = await readBuckets(orm.em.fork(), jobId, 'loss');
      expect(kept.length).toBeLessThanOrEqual(SUMMARY_SPAN);
      expect(kept.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(points.length);

      await orm.em.fork().transactional((tx) => createSummaries().rebuild(tx, jobId, 'loss'));
      const rebuilt = await readBuckets(orm.em.fork(), jobId, 'loss');
      expect(kept.map(shape)).toEqual(rebuilt.map(shape));

      // Compared with the values as stored: the driver writes a number into the SQL as text, which SQLite reads back
      // to within a bit of the last digit.
      const stored = ((await orm.em.getConnection().execute('select step, value from metric_point where job_id = ?', [jobId])) as Array<{ step: number; value: number | null }>).map((row) => ({ step: row.step, value: row.value ?? Number.NaN }));
      const finite = stored.map((point) => point.value).filter(Number.isFinite);
      const drawn = await readSeries(orm.em.fork(), jobId, 'loss', 50);
      expect(drawn.total).toBe(points.length);
      expect(drawn.min).toBe(finite.length > 0 ? Math.min(...finite) : null);
      expect(drawn.max).toBe(finite.length > 0 ? Math.max(...finite) : null);
      expect(drawn.points.length).toBe(Math.min(50, points.length));
      // Never a point that was not written; the first step is always drawn, and a NaN or infinity is never hidden.
      const written = new Set(stored.map((point) => `${point.step} ${point.value}`));
      for (const point of drawn.points) expect(written.has(`${point.step} ${point.value}`)).toBe(true);
      expect(drawn.points[0]!.step).toBe(Math.min(...points.map((point) => point.step)));
      if (points.some((point) => !Number.isFinite(point.value))) expect(drawn.points.some((point) => !Number.isFinite(point.value))).toBe(true);
    }),
    { numRuns: Number(process.env.MC_PROPERTY_RUNS ?? 200), seed: Number(process.env.MC_PROPERTY_SEED ?? 20261205) },
  );
}, 300_000);

it('draws a 100,000-point series from at most 1,024 spans, keeping its peak, its NaN and both ends', async () => {
  const jobId = nextJob++;
  const points = Array.from({ length: 100_000 }, (_, index) => ({ step: index, value: index === 61_234 ? 50 : index === 80_000 ? Number.NaN : 2 / (1 + index / 5000), time: index }));
  const summaries = createSummaries();
  for (let at = 0; at < points.length; at += 5000) {
    await orm.em.fork().transactional(async (tx) => {
      const batch = points.slice(at, at + 5000);
      await store(tx, jobId, batch);
      await summaries.add(tx, [{ jobId, name: 'loss', points: batch }]);
    });
  }
  const spans = await readBuckets(orm.em.fork(), jobId, 'loss');
  expect(spans.length).toBeGreaterThan(SUMMARY_SPAN / 2);
  expect(spans.length).toBeLessThanOrEqual(SUMMARY_SPAN);
  const drawn = await readSeries(orm.em.fork(), jobId, 'loss', 500);
  expect(drawn.points).toHaveLength(500);
  expect(drawn.total).toBe(100_000);
  expect(drawn.max).toBe(50);
  expect(drawn.points.map((point) => point.step)).toEqual(expect.arrayContaining([0, 61_234, 80_000, 99_999]));
  expect(drawn.points.find((point) => point.step === 80_000)!.value).toBeNaN();
});
