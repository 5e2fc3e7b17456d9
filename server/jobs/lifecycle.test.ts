// Which lifecycle records of a requeued job speak of the run that is current: its directory keeps the files of the
// runs before (a new watch reads them again), and its script's EXIT trap writes `finished` after requeueing itself.
import { describe, expect, it } from 'vitest';
import type { Job } from '../db/entities.js';
import { fromEarlierRun } from './lifecycle.js';
import { requeued, started } from './transitions.js';

const at = (time: string) => new Date(`2026-12-05T${time}Z`);
const runningJob = () => ({ state: 'RUNNING', startedAt: at('05:22:32'), exitCode: null, endedAt: null, restarts: 0, requeues: [] }) as unknown as Job;

describe('fromEarlierRun', () => {
  it('takes every record of a job never requeued', () => {
    const job = runningJob();
    expect(fromEarlierRun(job, 'finished', at('05:22:40'))).toBe(false);
    expect(fromEarlierRun(job, 'started', at('05:22:33'))).toBe(false);
  });

  it("ignores the end record its script writes after requeueing itself, and the run's old start", () => {
    const job = runningJob();
    requeued(job, at('05:23:30'), 'time-limit');
    expect(fromEarlierRun(job, 'finished', at('05:23:31'))).toBe(true);
    expect(fromEarlierRun(job, 'started', at('05:22:33'))).toBe(true);
  });

  it("after a requeue SLURM showed: ignores the old run's records read again, takes the next run's", () => {
    const job = runningJob();
    job.state = 'PENDING';
    requeued(job, at('05:22:40'), null);
    expect(job.startedAt).toBeNull();
    expect(fromEarlierRun(job, 'started', at('05:22:33'))).toBe(true);
    expect(fromEarlierRun(job, 'finished', at('05:22:37'))).toBe(true);
    expect(fromEarlierRun(job, 'started', at('05:24:54'))).toBe(false);
    started(job, at('05:24:54'), 'cpu-01');
    expect(job.state).toBe('RUNNING');
    expect(fromEarlierRun(job, 'finished', at('05:22:37'))).toBe(true);
    expect(fromEarlierRun(job, 'finished', at('05:25:19'))).toBe(false);
  });
});
