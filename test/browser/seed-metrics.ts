// Metric points written straight into a server's database and announced as the metrics service does after a
// flush: a deterministic curve for the browser suites and the client bench (a real job's points come from the lab).
import { MetricPoint } from '../../server/db/entities.js';
import type { createServices } from '../../server/services.js';

type Services = ReturnType<typeof createServices>;

/** Points of one job: `values(step)` gives each value (NaN and ±Infinity kept as such), time as epoch ms. */
export async function seedMetricPoints(services: Services, jobId: number, series: Record<string, Array<[step: number, value: number]>>, options: { announce?: boolean } = {}): Promise<void> {
  const em = services.orm.em.fork();
  const now = Date.now();
  const rows = Object.entries(series).flatMap(([name, points]) =>
    // SQLite keeps no NaN: the service stores it as null, and so do we.
    points.map(([step, value]) => ({ jobId, sourceId: 0, name, step, value: Number.isNaN(value) ? null : value, time: now })),
  );
  if (rows.length > 0) await em.insertMany(MetricPoint, rows);
  if (options.announce ?? true) services.events.publish('metrics:updated', { jobId, names: Object.keys(series) });
}

/** A falling loss with a little wobble, the same every run: seed 0 is the best, higher seeds end higher. */
export const lossAt = (step: number, seed = 0) => Number((2 / Math.sqrt(1 + step / 4) + 0.05 * seed + 0.02 * Math.sin(step + seed)).toFixed(4));

export const steps = (from: number, to: number, every = 1) => Array.from({ length: Math.floor((to - from) / every) + 1 }, (_, index) => from + index * every);
