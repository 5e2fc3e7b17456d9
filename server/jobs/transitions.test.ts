// How a poll's answer lands on a job record that the job's lifecycle files may already have moved on.
import { describe, expect, it } from 'vitest';
import type { Job } from '../db/entities.js';
import { changeOf, reportedBySlurm, started, visibleState } from './transitions.js';
import type { JobState, SlurmJobStatus } from '../slurm/state.js';

const answer = (state: JobState, rawState: string = state): SlurmJobStatus => ({
  slurmJobId: '42',
  rawState,
  state,
  reason: null,
  exitCode: state === 'COMPLETED' ? 0 : null,
  signal: null,
  nodeList: 'gpu-a100',
  startedAt: '2026-11-23T19:54:16',
  endedAt: state === 'COMPLETED' ? '2026-11-23T19:54:30' : null,
  expectedStartAt: null,
  elapsedSeconds: 14,
  workDir: null,
});

const jobIn = (state: JobState) => ({ state, exitCode: 0, endedAt: null }) as unknown as Job;

describe('reportedBySlurm', () => {
  it('keeps a lifecycle COMPLETING when the queue has not caught up and still says RUNNING', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('RUNNING'));
    expect(job.state).toBe('COMPLETING');
    expect(job.slurmState).toBe('RUNNING');
  });

  it('takes SLURM\'s final state after a lifecycle COMPLETING', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('COMPLETED'));
    expect(job.state).toBe('COMPLETED');
    expect(job.endedAt).toBeInstanceOf(Date);
  });

  it('takes a requeue back to PENDING, even after the script reported its end', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('PENDING'));
    expect(job.state).toBe('PENDING');
  });

  it('takes RUNNING over PENDING as it comes', () => {
    const job = jobIn('PENDING');
    reportedBySlurm(job, answer('RUNNING'));
    expect(job.state).toBe('RUNNING');
  });
});

describe("a pending job's expected start", () => {
  const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000);
  // SLURM's local time text, as squeue prints it (this server reads it in its own zone).
  const slurmText = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);

  it("is SLURM's estimate while the job waits, and is announced when it moves", () => {
    const job = jobIn('PENDING');
    const estimate = inMinutes(12);
    reportedBySlurm(job, { ...answer('PENDING'), reason: 'Resources', expectedStartAt: slurmText(estimate) });
    expect(job.estimatedStartAt?.getTime()).toBe(Math.floor(estimate.getTime() / 1000) * 1000);
    const before = changeOf(job).before;
    reportedBySlurm(job, { ...answer('PENDING'), reason: 'Resources', expectedStartAt: slurmText(inMinutes(40)) });
    expect(visibleState(job)).not.toBe(before);
  });

  it('is none when SLURM gives none, or only its year-ahead stand-in for a job without a time limit ahead of it', () => {
    const job = jobIn('PENDING');
    reportedBySlurm(job, { ...answer('PENDING'), expectedStartAt: null });
    expect(job.estimatedStartAt).toBeNull();
    reportedBySlurm(job, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(365 * 24 * 60 - 5)) });
    expect(job.estimatedStartAt).toBeNull();
  });

  it('is gone once the job starts, whether the queue or its own start record says so first', () => {
    const polled = jobIn('PENDING');
    reportedBySlurm(polled, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(5)) });
    reportedBySlurm(polled, answer('RUNNING'));
    expect(polled.estimatedStartAt).toBeNull();
    const recorded = jobIn('PENDING');
    reportedBySlurm(recorded, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(5)) });
    started(recorded, new Date(), 'gpu-a100');
    expect(recorded.estimatedStartAt).toBeNull();
  });
});
