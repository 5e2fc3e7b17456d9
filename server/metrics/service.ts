// The metrics domain: training curves read from what jobs already write — their log, the metric files their project
// declares (`.mlops-config.yaml: metrics`), their GPU sampler's files — over the open connection, with zero SLURM
// RPCs. The lifecycle watcher's one long-running command per cluster carries the bytes (jobs/lifecycle.ts); this
// service says which files to follow, parses each from where it stopped (the parser's state and the offset of the
// bytes it used are kept per file, so a restart goes on, never reads a file twice), stores the points under a bound
// per series, and announces them at most once a second per job.
import type { EntityManager } from '@mikro-orm/knex';
import { LRUCache } from 'lru-cache';
import { Job, MetricBucket, MetricPoint, MetricSource, Project } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { dialectOf, type SqlDialect } from '../db/sql-dialect.js';
import type { PubSub } from '../events.js';
import type { JobFileReader, JobFileSource, WatchedJob } from '../jobs/lifecycle.js';
import { jobPaths, submissionDirOf } from '../slurm/layout.js';
import { downsample } from './downsample.js';
import { initialGpuSamplesState, parseGpuSamples } from './gpu-samples.js';
import { initialState, needsReread, parseMetrics, rereadState, type MetricFormat, type ParsedPoint } from './parse.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { candidatesOf, createSummaries, fromStored, readBuckets, readStoredPoints, type StoredPoint } from './summary.js';

/** A source's format: a parser's, or the GPU sampler's files. */
export type SourceFormat = MetricFormat | 'gpu';

/** Most points one series keeps: beyond, its oldest half is thinned to every other point. */
export const SERIES_BOUND = 20_000;
/** Points are written in batches, and announced at most this often per job. */
const FLUSH_MS = 1000;

export interface MetricValue {
  name: string;
  step: number;
  /** NaN, Infinity and -Infinity as they are (the API spells them). */
  value: number;
  time: Date;
}

export interface MetricSeries {
  name: string;
  /** Points the run wrote (at most SERIES_BOUND are kept); `points` is at most the maxPoints asked, keeping the line's shape. */
  total: number;
  /** The lowest and highest finite values the run wrote (a downsampled line may miss a noisy extreme). */
  min: number | null;
  max: number | null;
  points: MetricValue[];
}

/** A file being read: where its parsed bytes end, bytes read but not yet used (an unfinished line), the parser's state. */
interface Reading {
  sourceId: number;
  jobId: number;
  path: string;
  format: SourceFormat;
  offset: number;
  pending: Buffer;
  state: unknown;
  /** A GPU sampler file of a job on several nodes: its node, which prefixes the names (`node2/gpu0.utilization`). */
  node: string | null;
}

function parse(reading: Reading, bytes: Buffer, final: boolean) {
  return reading.format === 'gpu' ? parseGpuSamples(bytes, reading.state, { final, node: reading.node }) : parseMetrics(reading.format, bytes, reading.state, { final });
}

const initial = (format: SourceFormat) => (format === 'gpu' ? initialGpuSamplesState() : initialState(format));

/** Rows a statement inserts at once (SQLite takes up to 32,766 bound values). */
const INSERT_CHUNK = 1000;

/**
 * A number as SQL: a bound `?` (its value pushed), null for NaN (SQLite keeps no NaN; PostgreSQL could, and stores the
 * same as SQLite so that every reader reads one way), or the dialect's infinity literal: bound or inlined as a
 * number, SQLite's driver spells it `Infinity`, which SQL reads as a column name, and the whole statement failed.
 */
export function sqlNumber(sql: SqlDialect, value: number, values: unknown[]): string {
  if (Number.isNaN(value)) return 'null';
  if (value === Infinity || value === -Infinity) return sql.infinity(value > 0 ? 1 : -1);
  values.push(value);
  return '?';
}

/** Inserts points (NaN and infinities as sqlNumber spells them). */
async function insertPoints(em: EntityManager, rows: ReadonlyArray<{ jobId: number; sourceId: number; name: string; step: number; value: number; time: number }>): Promise<void> {
  for (let at = 0; at < rows.length; at += INSERT_CHUNK) {
    const chunk = rows.slice(at, at + INSERT_CHUNK);
    const values: unknown[] = [];
    const sql = dialectOf(em);
    const tuples = chunk.map((row) => {
      values.push(row.jobId, row.sourceId, row.name);
      const step = sqlNumber(sql, row.step, values);
      const value = sqlNumber(sql, row.value, values);
      values.push(row.time);
      return `(?, ?, ?, ${step}, ${value}, ?)`;
    });
    await em.getConnection().execute(`insert into metric_point (job_id, source_id, name, step, value, time) values ${tuples.join(', ')}`, values, 'run', em.getTransactionContext());
  }
}


/**
 * A series drawn in `maxPoints` from its summary (metrics/summary.ts: a few points per span of its steps, ≤ 1,024
 * spans), or from every stored point when it has fewer than asked, when the summary is too coarse to draw that many
 * (steps crowded in a few spans), or when it has no summary yet (`summarised` false: stored before summaries existed).
 */
async function drawSeries(em: EntityManager, jobId: number, name: string, maxPoints: number): Promise<{ series: MetricSeries; summarised: boolean }> {
  const buckets = await readBuckets(em, jobId, name);
  const summarised = buckets.length > 0;
  let total: number;
  let finite: number[];
  let points: StoredPoint[];
  if (summarised) {
    total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
    finite = buckets.flatMap((bucket) => [bucket.low?.value, bucket.high?.value]).filter((value): value is number => value !== undefined);
    const candidates = candidatesOf(buckets);
    points = total <= maxPoints || candidates.length < maxPoints ? await readStoredPoints(em, jobId, name) : candidates;
  } else {
    points = await readStoredPoints(em, jobId, name);
    total = points.length;
    finite = points.map((point) => point.value).filter(Number.isFinite);
  }
  const series = {
    name,
    total,
    min: finite.length > 0 ? finite.reduce((a, b) => Math.min(a, b)) : null,
    max: finite.length > 0 ? finite.reduce((a, b) => Math.max(a, b)) : null,
    points: downsample(points, maxPoints).map((point) => ({ name, step: point.step, value: point.value, time: new Date(point.time) })),
  };
  return { series, summarised };
}

/** A series read from the database and drawn in `maxPoints` (the service keeps what it drew until the series changes). */
export async function readSeries(em: EntityManager, jobId: number, name: string, maxPoints: number): Promise<MetricSeries> {
  return (await drawSeries(em, jobId, name, maxPoints)).series;
}

export type MetricsService = ReturnType<typeof createMetricsService>;

export function createMetricsService({ orm, events }: { orm: Orm; events: PubSub }) {
  /** Files being read, by `${jobId} ${path}`. */
  const readings = new Map<string, Reading>();
  /** Patterns a job's files are found by, with the format of what they match, by `${jobId} ${pattern}`. */
  const patterns = new Map<string, SourceFormat>();
  /** How many nodes a followed job runs on: a GPU file of a job on several names its node in its series. */
  const nodesOf = new Map<number, number>();
  const unsaved: Array<{ reading: Reading; points: Array<Pick<ParsedPoint, 'name' | 'step' | 'value'> & { time: number | null }> }> = [];
  let flushTimer: NodeJS.Timeout | null = null;
  /** Every write, one after the other: flushes, a rewritten file's points deleted, summaries rebuilt. */
  let flushing: Promise<void> = Promise.resolve();
  const summaries = createSummaries();

  const keyOf = (jobId: number, path: string) => `${jobId} ${path}`;

  /** The patterns of a job's files: its GPU sampler's, and its project's metric files under its Hydra output dir. */
  function patternsOf(job: Job, project: Project | undefined): Array<{ pattern: string; format: SourceFormat }> {
    const paths = jobPaths(job.jobDir);
    const found: Array<{ pattern: string; format: SourceFormat }> = [{ pattern: `${paths.gpu}/*.csv`, format: 'gpu' }];
    const submission = submissionDirOf(job.jobDir);
    // A sweep's task writes under its own multirun/<tag>/<index>; a single job under Hydra's default
    // outputs/<date>/<time> or where the project puts it, in its own checkout.
    const roots = submission
      ? [`${jobPaths(submission).code}/multirun/${submission.slice(submission.lastIndexOf('/') + 1)}/${job.arrayIndex}`]
      : [`${paths.code}/outputs/*/*`, paths.code];
    for (const metric of project?.settings.metrics ?? []) for (const root of roots) found.push({ pattern: `${root}/${metric.path}`, format: metric.format });
    return found;
  }

  async function readingOf(em: EntityManager, jobId: number, path: string, format: SourceFormat, nodes = 1): Promise<Reading> {
    const existing = readings.get(keyOf(jobId, path));
    if (existing) return existing;
    let row = await em.findOne(MetricSource, { jobId, path });
    if (!row) {
      row = em.create(MetricSource, { jobId, path, format, offset: 0, state: initial(format), done: false });
      await em.flush();
    }
    const node = row.format === 'gpu' && nodes > 1 ? path.slice(path.lastIndexOf('/') + 1).replace(/\.csv$/, '') : null;
    const reading: Reading = { sourceId: row.id, jobId, path, format: row.format as SourceFormat, offset: row.offset, pending: Buffer.alloc(0), state: row.state, node };
    readings.set(keyOf(jobId, path), reading);
    return reading;
  }

  function scheduleFlush(): void {
    flushTimer ??= setTimeout(() => {
      flushTimer = null;
      flushing = flushing.then(flush).catch((error: unknown) => componentLogger('metrics').error(errorFields(error), 'metric points not saved'));
    }, FLUSH_MS);
    flushTimer.unref?.();
  }

  /** Writes the points read since the last flush and where each file stands, thins long series, announces. */
  async function flush(): Promise<void> {
    const batch = unsaved.splice(0);
    if (batch.length === 0) return;
    const em = orm.em.fork();
    const now = Date.now();
    const rows = batch.flatMap(({ reading, points }) =>
      points.map((point) => ({ jobId: reading.jobId, sourceId: reading.sourceId, name: point.name, step: point.step, value: point.value, time: point.time ?? now })),
    );
    const written = new Map<string, { jobId: number; name: string; points: StoredPoint[] }>();
    for (const row of rows) {
      const key = keyOf(row.jobId, row.name);
      if (!written.has(key)) written.set(key, { jobId: row.jobId, name: row.name, points: [] });
      written.get(key)!.points.push(row);
    }
    await em.transactional(async (tx) => {
      await insertPoints(tx, rows);
      await summaries.add(tx, [...written.values()]);
      for (const reading of new Set(batch.map((entry) => entry.reading))) {
        await tx.nativeUpdate(MetricSource, { id: reading.sourceId }, { offset: reading.offset, state: reading.state as object });
      }
    });
    const byJob = new Map<number, Map<string, number>>();
    for (const row of rows) {
      const names = byJob.get(row.jobId) ?? new Map<string, number>();
      byJob.set(row.jobId, names.set(row.name, (names.get(row.name) ?? 0) + 1));
    }
    for (const [jobId, names] of byJob) {
      await thin(em, jobId, names);
      for (const name of names.keys()) versions.set(keyOf(jobId, name), (versions.get(keyOf(jobId, name)) ?? 0) + 1);
      events.publish('metrics:updated', { jobId, names: [...names.keys()] });
    }
  }

  /** Series drawn for a maxPoints, until their next write: an ended job's never change, a phone reads a running one's every 2 s. */
  const drawn = new LRUCache<string, MetricSeries>({ max: 500 });
  /** Per series, how many flushes wrote to it: part of the drawn cache's key. */
  const versions = new Map<string, number>();

  /** Points per series as last counted plus those written since, so a series is counted in SQL once, not per write. */
  const sizes = new Map<string, number>();

  /** Keeps each series under SERIES_BOUND: drops every other point of its oldest half once it is over. */
  async function thin(em: EntityManager, jobId: number, added: Map<string, number>): Promise<void> {
    const connection = em.getConnection();
    for (const [name, count] of added) {
      const key = keyOf(jobId, name);
      let size = sizes.get(key);
      if (size === undefined) {
        const [{ total }] = (await connection.execute('select count(*) as total from metric_point where job_id = ? and name = ?', [jobId, name])) as [{ total: number | string }];
        // A count is a string on PostgreSQL (bigint): a number here, or `size += count` would join strings.
        size = Number(total);
      } else size += count;
      if (size > SERIES_BOUND) {
        const thinned = Math.floor(Math.floor(size / 2) / 2);
        await connection.execute(
          'delete from metric_point where id in (select id from (select id, row_number() over (order by step, id) as n from metric_point where job_id = ? and name = ?) as numbered where n <= ? and n % 2 = 0)',
          [jobId, name, Math.floor(size / 2)],
        );
        size -= thinned;
      }
      sizes.set(key, size);
    }
  }

  /** Parses what is new of a file; true when the parser found it rewritten, so it must be read again from byte 0. */
  function take(reading: Reading, from: number, bytes: Buffer, final = false): boolean {
    const expected = reading.offset + reading.pending.length;
    // A watch restarted from the stored offset sends again what is already pending here: keep only what is new.
    if (from > expected) return false;
    const fresh = bytes.subarray(Math.min(bytes.length, expected - from));
    const chunk = Buffer.concat([reading.pending, fresh]);
    const result = parse(reading, chunk, final);
    reading.offset += result.consumed;
    reading.pending = chunk.subarray(result.consumed);
    reading.state = result.state;
    unsaved.push({ reading, points: result.points });
    scheduleFlush();
    if (reading.format === 'gpu' || !needsReread(reading.format, reading.state)) return false;
    // Rewritten with more columns (Lightning's CSVLogger): read again from 0 with a state that gives nothing twice.
    reading.offset = 0;
    reading.pending = Buffer.alloc(0);
    reading.state = rereadState(reading.format, reading.state);
    return true;
  }

  const reader: JobFileReader = {
    async sourcesFor(_cluster: string, watchedJobs: readonly WatchedJob[]): Promise<JobFileSource[]> {
      const em = orm.em.fork();
      const ids = watchedJobs.map((job) => job.id);
      const jobs = await em.find(Job, { id: { $in: ids } }, { fields: ['id', 'jobDir', 'projectId', 'arrayIndex', 'input'] });
      const projects = new Map((await em.find(Project, { id: { $in: [...new Set(jobs.map((job) => job.projectId))] } })).map((project) => [project.id, project]));
      const sources: JobFileSource[] = [];
      const known = await em.find(MetricSource, { jobId: { $in: ids }, done: false });
      for (const job of jobs) {
        const files = new Map<string, SourceFormat>([[jobPaths(job.jobDir).output, 'log']]);
        for (const row of known.filter((source) => source.jobId === job.id)) files.set(row.path, row.format as SourceFormat);
        for (const [path, format] of files) {
          const reading = await readingOf(em, job.id, path, format, job.input.nodes);
          // The new watch sends again from what the parser has used; what was pending here comes again with it.
          reading.pending = Buffer.alloc(0);
          sources.push({ jobId: job.id, source: { kind: 'file', path, offset: reading.offset } });
        }
        for (const { pattern, format } of patternsOf(job as Job, projects.get(job.projectId))) {
          patterns.set(keyOf(job.id, pattern), format);
          nodesOf.set(job.id, job.input.nodes);
          sources.push({ jobId: job.id, source: { kind: 'glob', pattern } });
        }
      }
      return sources;
    },

    onBytes(jobId, path, from, bytes) {
      const reading = readings.get(keyOf(jobId, path));
      return reading ? take(reading, from, bytes) : false;
    },

    onRewound(jobId, path) {
      const reading = readings.get(keyOf(jobId, path));
      if (!reading) return;
      // Rewritten from its start (Lightning's CSVLogger does so when a new metric appears): its points are read again.
      reading.offset = 0;
      reading.pending = Buffer.alloc(0);
      reading.state = initial(reading.format);
      drawn.clear();
      const index = unsaved.findIndex((entry) => entry.reading === reading);
      if (index >= 0) unsaved.splice(index);
      flushing = flushing.then(async () => {
        const em = orm.em.fork();
        await em.nativeDelete(MetricPoint, { sourceId: reading.sourceId });
        // Its series are summarised again from what is stored, at their next write or read.
        await em.nativeDelete(MetricBucket, { jobId });
        summaries.forget([jobId]);
      });
    },

    onMatch(jobId, pattern, path) {
      if (readings.has(keyOf(jobId, path))) return false;
      const format = patterns.get(keyOf(jobId, pattern));
      if (!format) return false;
      // Registered now, so a second report of the same file is not news; stored before the watch restarts with it.
      readings.set(keyOf(jobId, path), { sourceId: -1, jobId, path, format, offset: 0, pending: Buffer.alloc(0), state: initial(format), node: null });
      flushing = flushing.then(async () => {
        readings.delete(keyOf(jobId, path));
        await readingOf(orm.em.fork(), jobId, path, format, nodesOf.get(jobId));
      });
      return true;
    },

    async finished(jobIds) {
      for (const reading of readings.values()) {
        // A last line without its newline is complete now: the file will not grow.
        if (jobIds.includes(reading.jobId) && reading.pending.length > 0) take(reading, reading.offset + reading.pending.length, Buffer.alloc(0), true);
      }
      await (flushing = flushing.then(flush));
      await orm.em.fork().nativeUpdate(MetricSource, { jobId: { $in: [...jobIds] } }, { done: true });
      for (const [key, reading] of readings) if (jobIds.includes(reading.jobId)) readings.delete(key);
      for (const jobId of jobIds) nodesOf.delete(jobId);
      summaries.forget(jobIds);
      // Its series are final now: drawn again once, then kept in the cache by its own use.
      for (const key of [...drawn.keys()]) if (jobIds.includes(Number(key.slice(0, key.indexOf(' '))))) drawn.delete(key);
      for (const key of [...versions.keys()]) if (jobIds.includes(Number(key.slice(0, key.indexOf(' '))))) versions.delete(key);
      for (const map of [patterns, sizes]) for (const key of map.keys()) if (jobIds.includes(Number(key.slice(0, key.indexOf(' '))))) map.delete(key);
    },
  };

  // Points written by anyone (another process of a group server, a test, a backfill) are announced: what was drawn
  // of those series is stale then, also when this service did not write them.
  const updates = events.subscribe('metrics:updated');
  void (async () => {
    for await (const { jobId, names } of updates) for (const name of names) versions.set(keyOf(jobId, name), (versions.get(keyOf(jobId, name)) ?? 0) + 1);
  })();

  return {
    reader,

    async names(em: EntityManager, jobId: number): Promise<string[]> {
      const rows = (await em.getConnection().execute('select distinct name from metric_point where job_id = ? order by name', [jobId])) as Array<{ name: string }>;
      return rows.map((row) => row.name);
    },

    /** The metric names of every task a sweep ever had. */
    async sweepNames(em: EntityManager, sweepId: number): Promise<string[]> {
      const rows = (await em.getConnection().execute('select distinct name from metric_point where job_id in (select id from job where sweep_id = ?) order by name', [sweepId])) as Array<{ name: string }>;
      return rows.map((row) => row.name);
    },

    /** Each series' value at its highest step. */
    async last(em: EntityManager, jobIds: readonly number[]): Promise<Map<number, MetricValue[]>> {
      const found = new Map<number, MetricValue[]>(jobIds.map((id) => [id, []]));
      if (jobIds.length === 0) return found;
      const rows = (await em
        .getConnection()
        .execute(
          `select job_id, name, step, value, time from (select job_id, name, step, value, time, row_number() over (partition by job_id, name order by step desc, id desc) as n from metric_point where job_id in (${jobIds.map(() => '?').join(',')})) as ranked where n = 1 order by name`,
          [...jobIds],
        )) as Array<{ job_id: number; name: string; step: number; value: number | null; time: number }>;
      for (const row of rows) found.get(row.job_id)!.push({ name: row.name, step: row.step, value: fromStored(row.value), time: new Date(row.time) });
      return found;
    },

    /** Series of a job, each brought down to `maxPoints` keeping its shape (and every NaN or infinity). */
    async series(em: EntityManager, jobId: number, names: readonly string[] | null, maxPoints: number): Promise<MetricSeries[]> {
      const wanted = names ?? (await this.names(em, jobId));
      const series: MetricSeries[] = [];
      for (const name of wanted) {
        const key = `${keyOf(jobId, name)} ${maxPoints} ${versions.get(keyOf(jobId, name)) ?? 0}`;
        let found = drawn.get(key);
        if (!found) {
          const { series: read, summarised } = await drawSeries(em, jobId, name, maxPoints);
          // Stored before summaries existed, or its file was rewritten: summarised now, for the next read.
          if (!summarised && read.total > 0) flushing = flushing.then(() => orm.em.fork().transactional((tx) => summaries.rebuild(tx, jobId, name)));
          found = read;
          drawn.set(key, found);
        }
        series.push(found);
      }
      return series;
    },

    async stop(): Promise<void> {
      void updates.return?.();
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = null;
      await (flushing = flushing.then(flush));
    },
  };
}
