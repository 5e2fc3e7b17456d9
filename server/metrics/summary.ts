// A summary of each series, kept as its points are written, so a chart of a long series is drawn from a few points per
// span of its steps instead of every stored point: through the SQLite driver each row read costs ~1 µs, so a
// 20,000-point series took ~25 ms and a 100,000-point one ~240 ms, where its ≤ 1,024 spans take a few.
// Each span keeps its first, last, lowest and highest point (M4: what a line drawn at that width can show) and its
// first NaN or infinity (what a user must see). Spans are 2^exponent steps wide; when a series outgrows SUMMARY_SPAN
// spans, the exponent grows and neighbouring spans merge, so a summary never holds more than SUMMARY_SPAN rows.
import type { EntityManager } from '@mikro-orm/knex';

/** Most spans one series' summary holds. */
export const SUMMARY_SPAN = 1024;
/** Spans of a series kept in memory between writes: a running job appends to its last ones. */
const HELD_SPANS = 4;
/** Rows one statement writes (6 values each; SQLite takes up to 32,766). */
const WRITE_CHUNK = 1000;

export interface StoredPoint {
  step: number;
  /** NaN, Infinity and -Infinity as they are. */
  value: number;
  /** Epoch milliseconds. */
  time: number;
}

export interface Bucket {
  k: number;
  count: number;
  first: StoredPoint;
  last: StoredPoint;
  /** Lowest and highest finite value; null when the span holds none. */
  low: StoredPoint | null;
  high: StoredPoint | null;
  /** The first NaN or infinity by step. */
  odd: StoredPoint | null;
}

interface SeriesSummary {
  exponent: number;
  /** The lowest and highest span index stored. */
  low: number;
  high: number;
  /** Spans held in memory, by index: the most recent ones. */
  held: Map<number, Bucket>;
}

/** A point goes into the summary when its step can name a span (an absurd step is still stored, only not summarised). */
const summarisable = (point: StoredPoint) => Math.abs(point.step) < 2 ** 52;
const spanOf = (step: number, exponent: number) => Math.floor(step / 2 ** exponent);
/** A stored value (null is NaN: SQLite keeps no NaN). */
export const fromStored = (value: number | null) => (value === null ? Number.NaN : value);

const earlier = (a: StoredPoint | null, b: StoredPoint | null) => (!a ? b : !b ? a : b.step < a.step ? b : a);

/** Two summaries of points in one span as one; on equal steps, `a`'s points come first (it was written first). */
function merge(a: Bucket, b: Bucket, k: number): Bucket {
  return {
    k,
    count: a.count + b.count,
    first: b.first.step < a.first.step ? b.first : a.first,
    last: b.last.step >= a.last.step ? b.last : a.last,
    low: !a.low ? b.low : !b.low ? a.low : b.low.value < a.low.value ? b.low : a.low,
    high: !a.high ? b.high : !b.high ? a.high : b.high.value > a.high.value ? b.high : a.high,
    odd: earlier(a.odd, b.odd),
  };
}

function single(point: StoredPoint, k: number): Bucket {
  const finite = Number.isFinite(point.value);
  return { k, count: 1, first: point, last: point, low: finite ? point : null, high: finite ? point : null, odd: finite ? null : point };
}

/** Adds a point to its span of `buckets`; returns the span's index. */
function addTo(buckets: Map<number, Bucket>, point: StoredPoint, exponent: number): number {
  const k = spanOf(point.step, exponent);
  const there = buckets.get(k);
  buckets.set(k, there ? merge(there, single(point, k), k) : single(point, k));
  return k;
}

/** Spans regrouped at a larger exponent (neighbours merged). */
function regroup(buckets: Iterable<Bucket>, from: number, to: number): Map<number, Bucket> {
  const grouped = new Map<number, Bucket>();
  for (const bucket of buckets) {
    const k = Math.floor(bucket.k / 2 ** (to - from));
    const there = grouped.get(k);
    grouped.set(k, there ? merge(there, bucket, k) : { ...bucket, k });
  }
  return grouped;
}

/** The smallest exponent ≥ `exponent` at which steps spanning span indexes low..high fit SUMMARY_SPAN spans. */
function fitting(exponent: number, low: number, high: number): { exponent: number; low: number; high: number } {
  while (high - low + 1 > SUMMARY_SPAN) {
    exponent++;
    low = Math.floor(low / 2);
    high = Math.floor(high / 2);
  }
  return { exponent, low, high };
}

/** The points a chart is drawn from: each span's kept points, by step, each once. */
export function candidatesOf(buckets: readonly Bucket[]): StoredPoint[] {
  const found = new Set<StoredPoint>();
  for (const bucket of buckets) for (const point of [bucket.first, bucket.low, bucket.high, bucket.odd, bucket.last]) if (point) found.add(point);
  // Read from rows, one point kept for two reasons is two equal objects: equal step, value and time draw the same.
  const unique = new Map<string, StoredPoint>();
  for (const point of found) unique.set(`${point.step} ${point.value} ${point.time}`, point);
  return [...unique.values()].sort((a, b) => a.step - b.step);
}

/** Every stored point of a series, by step (in the caller's transaction, when it has one). */
export async function readStoredPoints(em: EntityManager, jobId: number, name: string): Promise<StoredPoint[]> {
  const rows = (await em
    .getConnection()
    .execute('select step, value, time from metric_point where job_id = ? and name = ? order by step, id', [jobId, name], 'all', em.getTransactionContext())) as Array<{ step: number; value: number | null; time: number }>;
  return rows.map((row) => ({ step: row.step, value: fromStored(row.value), time: row.time }));
}

interface BucketRow {
  k: number;
  count: number;
  points: string;
}

type Encoded = [number, number | string, number] | null;
const encode = (point: StoredPoint | null): Encoded => (point ? [point.step, Number.isFinite(point.value) ? point.value : String(point.value), point.time] : null);
const decode = (point: Encoded): StoredPoint | null => (point ? { step: point[0], value: Number(point[1]), time: point[2] } : null);

function bucketOf(row: BucketRow): Bucket {
  const [first, last, low, high, odd] = (JSON.parse(row.points) as Encoded[]).map(decode);
  return { k: row.k, count: row.count, first: first!, last: last!, low: low ?? null, high: high ?? null, odd: odd ?? null };
}

/** A series' summary, by span (empty when it has none: stored before summaries existed, or its file was rewritten). */
export async function readBuckets(em: EntityManager, jobId: number, name: string, spans?: readonly number[]): Promise<Bucket[]> {
  const only = spans ? ` and k in (${spans.map(() => '?').join(',')})` : '';
  const rows = (await em.getConnection().execute(`select k, count, points from metric_bucket where job_id = ? and name = ?${only} order by k`, [jobId, name, ...(spans ?? [])], 'all', em.getTransactionContext())) as BucketRow[];
  return rows.map(bucketOf);
}

async function writeBuckets(em: EntityManager, rows: ReadonlyArray<{ jobId: number; name: string; exponent: number; bucket: Bucket }>): Promise<void> {
  for (let at = 0; at < rows.length; at += WRITE_CHUNK) {
    const chunk = rows.slice(at, at + WRITE_CHUNK);
    const values = chunk.flatMap(({ jobId, name, exponent, bucket }) => [jobId, name, bucket.k, exponent, bucket.count, JSON.stringify([bucket.first, bucket.last, bucket.low, bucket.high, bucket.odd].map(encode))]);
    await em
      .getConnection()
      .execute(
        `insert into metric_bucket (job_id, name, k, exponent, count, points) values ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')} ` +
          'on conflict (job_id, name, k) do update set exponent = excluded.exponent, count = excluded.count, points = excluded.points',
        values,
        'run',
        em.getTransactionContext(),
      );
  }
}

/** Keeps the summaries of the series being written, and rebuilds one from its stored points when it has none. */
export function createSummaries() {
  /** By `${jobId} ${name}`: only the series written since their job was last followed. */
  const series = new Map<string, SeriesSummary>();

  const hold = (key: string, exponent: number, low: number, high: number, buckets: Map<number, Bucket>) => {
    const held = new Map([...buckets].filter(([k]) => k > high - HELD_SPANS));
    series.set(key, { exponent, low, high, held });
  };

  /** Summarises a series from what is stored of it, replacing any summary it had. */
  async function rebuild(em: EntityManager, jobId: number, name: string): Promise<void> {
    const points = (await readStoredPoints(em, jobId, name)).filter(summarisable);
    await em.getConnection().execute('delete from metric_bucket where job_id = ? and name = ?', [jobId, name], 'run', em.getTransactionContext());
    if (points.length === 0) return;
    const { exponent, low, high } = fitting(0, spanOf(points[0]!.step, 0), spanOf(points.at(-1)!.step, 0));
    const buckets = new Map<number, Bucket>();
    for (const point of points) addTo(buckets, point, exponent);
    await writeBuckets(em, [...buckets.values()].map((bucket) => ({ jobId, name, exponent, bucket })));
    hold(`${jobId} ${name}`, exponent, low, high, buckets);
  }

  return {
    rebuild,

    /**
     * Adds points just stored to their series' summaries (in the transaction that stored them). A series without a
     * summary is summarised from everything stored of it, these points included.
     */
    async add(em: EntityManager, written: ReadonlyArray<{ jobId: number; name: string; points: readonly StoredPoint[] }>): Promise<void> {
      const dirty: Array<{ jobId: number; name: string; exponent: number; bucket: Bucket }> = [];
      for (const { jobId, name, points } of written) {
        const key = `${jobId} ${name}`;
        let summary = series.get(key);
        if (!summary) {
          const [range] = (await em
            .getConnection()
            .execute('select max(exponent) as exponent, min(k) as low, max(k) as high from metric_bucket where job_id = ? and name = ?', [jobId, name], 'all', em.getTransactionContext())) as Array<{ exponent: number | null; low: number; high: number }>;
          if (range?.exponent === null || range?.exponent === undefined) {
            await rebuild(em, jobId, name);
            continue;
          }
          summary = { exponent: range.exponent, low: range.low, high: range.high, held: new Map() };
        }
        const usable = points.filter(summarisable);
        if (usable.length === 0) continue;
        let low = summary.low;
        let high = summary.high;
        for (const point of usable) {
          low = Math.min(low, spanOf(point.step, summary.exponent));
          high = Math.max(high, spanOf(point.step, summary.exponent));
        }
        const fit = fitting(summary.exponent, low, high);
        let buckets: Map<number, Bucket>;
        if (fit.exponent !== summary.exponent) {
          // Outgrown: every span is merged with its neighbour (as often as needed) and the summary written anew.
          buckets = regroup(await readBuckets(em, jobId, name), summary.exponent, fit.exponent);
          await em.getConnection().execute('delete from metric_bucket where job_id = ? and name = ?', [jobId, name], 'run', em.getTransactionContext());
        } else {
          buckets = new Map(summary.held);
          // Only spans inside the stored range can be in the database (a running job's new points open new spans).
          const stored = summary;
          const missing = [...new Set(usable.map((point) => spanOf(point.step, fit.exponent)))].filter((k) => !buckets.has(k) && k >= stored.low && k <= stored.high);
          if (missing.length > 0) for (const bucket of await readBuckets(em, jobId, name, missing)) buckets.set(bucket.k, bucket);
        }
        const touched = new Set<number>(fit.exponent !== summary.exponent ? buckets.keys() : []);
        for (const point of usable) touched.add(addTo(buckets, point, fit.exponent));
        for (const k of touched) dirty.push({ jobId, name, exponent: fit.exponent, bucket: buckets.get(k)! });
        hold(key, fit.exponent, fit.low, fit.high, buckets);
      }
      await writeBuckets(em, dirty);
    },

    /** Forgets what is held of these jobs' series (they ended, or their points are being read again). */
    forget(jobIds: readonly number[]): void {
      for (const key of series.keys()) if (jobIds.includes(Number(key.slice(0, key.indexOf(' '))))) series.delete(key);
    },
  };
}
