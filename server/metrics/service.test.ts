// The metrics service as the lifecycle watch drives it (what files to follow, their bytes as they arrive), on an
// in-memory database: points stored once each whatever the chunking, a series kept under its bound, and a restart
// that goes on from the bytes already used.
import { afterEach, describe, expect, it } from 'vitest';
import { MetricPoint } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { createEvents } from '../events.js';
import { jobPaths } from '../slurm/layout.js';
import { createJobRow, insertProject } from '../../test/factories.js';
import { SERIES_BOUND, createMetricsService } from './service.js';
import { readBuckets } from './summary.js';

let orm: Orm | null = null;
afterEach(async () => {
  await orm?.close();
  orm = null;
});

async function world() {
  orm = await initOrm(':memory:');
  const em = orm.em.fork();
  const project = await insertProject(em);
  const job = createJobRow(em, { cluster: 'alpha', state: 'RUNNING', slurmJobId: '7', projectId: project.id, jobDir: '/scratch/mc/jobs/abcdefghij12' });
  await em.flush();
  const events = createEvents();
  return { orm, job, events, service: createMetricsService({ orm, events }) };
}

const log = (jobDir: string) => jobPaths(jobDir).output;

describe('metrics service', () => {
  it("follows a running job's log from where it stopped and stores each point once, however the bytes are cut", async () => {
    const { orm, job, service, events } = await world();
    const announced: string[][] = [];
    const subscription = events.subscribe('metrics:updated');
    void (async () => {
      for await (const update of subscription) announced.push(update.names);
    })();
    const sources = await service.reader.sourcesFor('alpha', [{ id: job.id, jobDir: job.jobDir, running: true }]);
    expect(sources).toContainEqual({ jobId: job.id, source: { kind: 'file', path: log(job.jobDir), offset: 0 } });
    expect(sources).toContainEqual({ jobId: job.id, source: { kind: 'glob', pattern: `${jobPaths(job.jobDir).gpu}/*.csv` } });
    const text = Buffer.from('step=1 loss=0.9\nstep=2 loss=0.7\nstep=3 loss=0.5\n');
    // Cut mid-line, and sent again in part (a restarted watch resends from the offset it was given).
    service.reader.onBytes(job.id, log(job.jobDir), 0, text.subarray(0, 20));
    service.reader.onBytes(job.id, log(job.jobDir), 10, text.subarray(10, 35));
    service.reader.onBytes(job.id, log(job.jobDir), 35, text.subarray(35));
    await service.stop();
    const series = await service.series(orm.em.fork(), job.id, ['loss'], 500);
    expect(series[0]!.points.map((point) => [point.step, point.value])).toEqual([
      [1, 0.9],
      [2, 0.7],
      [3, 0.5],
    ]);
    expect((await service.last(orm.em.fork(), [job.id])).get(job.id)).toEqual([expect.objectContaining({ name: 'loss', step: 3, value: 0.5 })]);
    expect(announced).toEqual([['loss']]);

    // A new server: the log is followed from the bytes already used, so nothing is stored twice.
    const again = createMetricsService({ orm, events });
    const resumed = await again.reader.sourcesFor('alpha', [{ id: job.id, jobDir: job.jobDir, running: true }]);
    expect(resumed).toContainEqual({ jobId: job.id, source: { kind: 'file', path: log(job.jobDir), offset: text.length } });
    again.reader.onBytes(job.id, log(job.jobDir), text.length, Buffer.from('step=4 loss=nan\nstep=5 loss=inf\nstep=6 loss=-inf\n'));
    await again.reader.finished([job.id]);
    const after = await again.series(orm.em.fork(), job.id, ['loss'], 500);
    expect(after[0]!.points.map((point) => point.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // NaN and the infinities are kept as they are (SQLite keeps no NaN, and takes an infinity only as a literal).
    expect(after[0]!.points.slice(3).map((point) => point.value)).toEqual([Number.NaN, Infinity, -Infinity]);
    void subscription.return?.();
  });

  it('keeps a series under its bound, with its first and last points', async () => {
    const { orm, job, service } = await world();
    await service.reader.sourcesFor('alpha', [{ id: job.id, jobDir: job.jobDir, running: true }]);
    const lines = Array.from({ length: SERIES_BOUND + 2000 }, (_, index) => `step=${index + 1} loss=${(1 / (index + 1)).toFixed(6)}\n`).join('');
    const bytes = Buffer.from(lines);
    for (let at = 0; at < bytes.length; at += 256 * 1024) service.reader.onBytes(job.id, log(job.jobDir), at, bytes.subarray(at, at + 256 * 1024));
    await service.stop();
    const em = orm.em.fork();
    const stored = await em.count(MetricPoint, { jobId: job.id, name: 'loss' });
    expect(stored).toBeLessThanOrEqual(SERIES_BOUND);
    expect(stored).toBeGreaterThan(SERIES_BOUND / 2);
    const steps = (await em.find(MetricPoint, { jobId: job.id, name: 'loss' }, { orderBy: { step: 'asc' }, fields: ['step'] })).map((point) => point.step);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(SERIES_BOUND + 2000);
    const [series] = await service.series(em, job.id, ['loss'], 500);
    expect(series!.points).toHaveLength(500);
    // What the run wrote, also the points thinned away: its count and extremes, whatever the 500 drawn ones keep.
    expect(series!.total).toBe(SERIES_BOUND + 2000);
    expect(series!.max).toBe(1);
    expect(series!.min).toBeCloseTo(1 / (SERIES_BOUND + 2000), 6);
  });

  it('summarises a series stored before summaries existed when first read, and one whose file was rewritten anew', async () => {
    const { orm, job, service } = await world();
    const em = orm.em.fork();
    const spans = async () => (await readBuckets(orm!.em.fork(), job.id, 'loss')).reduce((sum, bucket) => sum + bucket.count, 0);
    // Points as an older server stored them: no summary.
    await em.getConnection().execute(`insert into metric_point (job_id, source_id, name, step, value, time) values ${Array.from({ length: 3000 }, (_, step) => `(${job.id}, 0, 'loss', ${step}, ${1 / (step + 1)}, 0)`).join(', ')}`);
    const [before] = await service.series(em, job.id, ['loss'], 500);
    expect([before!.total, before!.points.length, before!.max]).toEqual([3000, 500, 1]);
    await service.stop();
    expect(await spans()).toBe(3000);

    // A metrics file rewritten from its start: its points and the series' summary go, and come back as it is read again.
    await service.reader.sourcesFor('alpha', [{ id: job.id, jobDir: job.jobDir, running: true }]);
    service.reader.onBytes(job.id, log(job.jobDir), 0, Buffer.from('step=1 loss=0.9\nstep=2 loss=0.7\n'));
    await service.stop();
    expect(await spans()).toBe(3002);
    service.reader.onRewound(job.id, log(job.jobDir));
    service.reader.onBytes(job.id, log(job.jobDir), 0, Buffer.from('step=1 loss=0.8\n'));
    await service.stop();
    expect(await spans()).toBe(3001);
    const [after] = await service.series(orm.em.fork(), job.id, ['loss'], 5000);
    expect(after!.points.filter((point) => point.step === 1).map((point) => point.value)).toEqual([0.5, 0.8]);
  });
});
