// How a poll's answer lands on a job record that the job's lifecycle files may already have moved on.
import { describe, expect, it } from 'vitest';
import type { Job } from '../db/entities.js';
import { reportedBySlurm } from './transitions.js';
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
