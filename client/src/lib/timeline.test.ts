import { describe, expect, it } from 'vitest';
import { jobTimeline } from './timeline';

type TimelineJob = Parameters<typeof jobTimeline>[0];

const base: TimelineJob & { id: number; projectId: number; name: string; description: string; tag: string; cluster: string; parentId: number | null; archived: boolean; wandbUrl: string | null; elapsedSeconds: number | null } = {
  id: 1,
  projectId: 1,
  name: 'ml-project',
  description: '',
  tag: 'abc',
  cluster: 'lab',
  state: 'PENDING',
  slurmState: 'PENDING',
  slurmJobId: '42',
  reason: 'Resources',
  exitCode: null,
  signal: null,
  nodeList: null,
  parentId: null,
  archived: false,
  wandbUrl: null,
  createdAt: '2026-11-23T10:00:00.000Z',
  submittedAt: '2026-11-23T10:00:01.000Z',
  startedAt: null,
  endedAt: null,
  elapsedSeconds: null,
  submitError: null,
};

const summary = (job: Partial<TimelineJob>, now = Date.parse('2026-11-23T10:05:00.000Z')) =>
  jobTimeline({ ...base, ...job }, now).map((step) => `${step.key}:${step.status}:${step.title}${step.detail ? ` (${step.detail})` : ''}`);

describe('the job timeline', () => {
  it('shows a pending job waiting, with SLURM’s reason', () => {
    expect(summary({})).toEqual(['submitted:done:Submitted (SLURM job 42)', 'pending:current:Pending (waiting: Resources)', 'running:upcoming:Running', 'ended:upcoming:Ends']);
  });

  it('shows where a running job runs and for how long', () => {
    expect(summary({ state: 'RUNNING', reason: null, startedAt: '2026-11-23T10:01:01.000Z', nodeList: 'gpu-a100' })).toEqual([
      'submitted:done:Submitted (SLURM job 42)',
      'pending:done:Pending (waited 1 min 0 s)',
      'running:current:Running on gpu-a100 (for 3 min 59 s)',
      'ended:upcoming:Ends',
    ]);
  });

  it('ends with the exit code, or the failure kind', () => {
    const ran = { startedAt: '2026-11-23T10:01:01.000Z', endedAt: '2026-11-23T10:02:01.000Z', nodeList: 'gpu-h100', reason: null };
    expect(summary({ ...ran, state: 'COMPLETED', exitCode: 0 }).slice(2)).toEqual(['running:done:Ran on gpu-h100 (for 1 min 0 s)', 'ended:done:Completed (exit code 0)']);
    expect(summary({ ...ran, state: 'FAILED', exitCode: 3 })[3]).toBe('ended:failed:Failed (exit code 3)');
    expect(summary({ ...ran, state: 'OUT_OF_MEMORY', exitCode: 137, signal: 9 })[3]).toBe('ended:failed:Out of memory (exit code 137 · signal 9 · ran out of memory)');
    expect(summary({ ...ran, state: 'TIMEOUT' })[3]).toBe('ended:failed:Timed out (reached its time limit)');
    expect(summary({ ...ran, state: 'CANCELLED', slurmState: 'CANCELLED by 1001' })[3]).toBe('ended:failed:Cancelled (cancelled by 1001)');
  });

  it('says a job cancelled while pending never ran', () => {
    expect(summary({ state: 'CANCELLED', reason: null, endedAt: '2026-11-23T10:02:00.000Z' }).slice(1, 3)).toEqual(['pending:done:Pending (never started)', 'running:skipped:Did not run']);
  });

  it('stops at the submission when sbatch refused the job or has not answered', () => {
    expect(summary({ state: 'SUBMIT_FAILED', slurmJobId: null, submitError: 'Requested node configuration is not available' })).toEqual(['submitted:failed:Submit failed (Requested node configuration is not available)']);
    expect(summary({ state: 'SUBMITTING', slurmJobId: null })).toEqual(['submitted:current:Submitting (waiting for sbatch to answer)']);
  });

  it('never calls an unknown outcome a success', () => {
    expect(summary({ state: 'UNKNOWN', startedAt: '2026-11-23T10:01:01.000Z' })[3]).toBe('ended:failed:Unknown (SLURM no longer knows the job: its outcome is unknown)');
  });
});

describe('a requeued job', () => {
  it('shows each earlier run that ended in a requeue, then the current run', () => {
    const requeued = {
      state: 'RUNNING' as const,
      reason: null,
      nodeList: 'cpu-01',
      startedAt: '2026-11-23T10:10:00.000Z',
      requeues: [
        { at: '2026-11-23T10:05:00.000Z', runStartedAt: '2026-11-23T10:01:00.000Z', cause: 'TIME_LIMIT' as const },
        { at: '2026-11-23T10:08:00.000Z', runStartedAt: null, cause: null },
      ],
      input: { resume: { maxRestarts: 3 } },
    };
    const steps = jobTimeline({ ...base, ...requeued }, Date.parse('2026-11-23T10:11:00.000Z'));
    expect(steps.map((step) => `${step.key}:${step.status}:${step.title}${step.detail ? ` (${step.detail})` : ''}`)).toEqual([
      'submitted:done:Submitted (SLURM job 42)',
      'requeued:done:Requeued at its time limit (1 of 3) (after running 4 min 0 s)',
      'requeued:done:Requeued (2 of 3)',
      expect.stringMatching(/^pending:done:Pending/),
      'running:current:Running on cpu-01 (for 1 min 0 s)',
      'ended:upcoming:Ends',
    ]);
    expect(jobTimeline({ ...base, ...requeued, input: null })[1]!.title).toBe('Requeued at its time limit');
  });
});
