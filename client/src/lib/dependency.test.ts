import { describe, expect, it } from 'vitest';
import { neverSatisfiedText, neverStartsText, waitsForText } from './dependency';

describe('a job’s dependencies in words', () => {
  it('says what it waits for', () => {
    expect(waitsForText({ kind: 'AFTEROK', jobId: 12 })).toBe('waits for job 12 (afterok)');
    expect(waitsForText({ kind: 'AFTERCORR', sweepId: 3 })).toBe('waits for sweep 3 (aftercorr)');
  });

  it('says plainly why a never-satisfied dependency will never be met, from its target’s state', () => {
    expect(neverStartsText([{ kind: 'AFTEROK', jobId: 12 }], [{ name: 'train', state: 'FAILED' }])).toBe('will never start: job 12 failed and this job waits for its success (afterok)');
    expect(neverSatisfiedText({ kind: 'AFTERNOTOK', jobId: 4 }, { name: 'x', state: 'COMPLETED' })).toBe('job 4 completed and this job waits for its failure (afternotok)');
    expect(neverSatisfiedText({ kind: 'AFTEROK', sweepId: 2 }, { name: 'x', state: 'COMPLETED_WITH_FAILURES' })).toBe('sweep 2 had failed tasks and this job waits for its success (afterok)');
    // A target that satisfies it, or still runs, is not the reason.
    expect(neverSatisfiedText({ kind: 'AFTEROK', jobId: 12 }, { name: 'x', state: 'COMPLETED' })).toBeNull();
    expect(neverSatisfiedText({ kind: 'AFTEROK', jobId: 12 }, { name: 'x', state: 'RUNNING' })).toBeNull();
    expect(neverStartsText([{ kind: 'AFTEROK', jobId: 1 }, { kind: 'AFTEROK', jobId: 2 }], [{ name: 'a', state: 'COMPLETED' }, { name: 'b', state: 'TIMEOUT' }])).toBe('will never start: job 2 ran out of time and this job waits for its success (afterok)');
    // Targets not read (offline, or removed): the kind's words, never nothing.
    expect(neverStartsText([{ kind: 'AFTEROK', jobId: 12 }], undefined)).toBe('will never start: job 12 ended in a way this job cannot follow (afterok)');
    expect(neverStartsText([], [])).toBe('will never start: SLURM says what it waits for can no longer happen');
  });
});
