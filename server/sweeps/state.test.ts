import { describe, expect, it } from 'vitest';
import { arraySpec } from './service.js';
import { sweepState } from './state.js';

describe('sweepState', () => {
  it('reads a sweep from its tasks, and never calls one with a failed task completed', () => {
    expect(sweepState({})).toBe('SUBMITTING');
    expect(sweepState({ SUBMITTING: 6 })).toBe('SUBMITTING');
    expect(sweepState({ PENDING: 5, SUBMITTING: 1 })).toBe('PENDING');
    expect(sweepState({ PENDING: 5, RUNNING: 1 })).toBe('RUNNING');
    expect(sweepState({ COMPLETED: 5, COMPLETING: 1 })).toBe('RUNNING');
    expect(sweepState({ COMPLETED: 5, FAILED: 1, PENDING: 1 })).toBe('PENDING');
    expect(sweepState({ COMPLETED: 6 })).toBe('COMPLETED');
    expect(sweepState({ COMPLETED: 5, FAILED: 1 })).toBe('COMPLETED_WITH_FAILURES');
    expect(sweepState({ COMPLETED: 5, TIMEOUT: 1 })).toBe('COMPLETED_WITH_FAILURES');
    expect(sweepState({ COMPLETED: 1, CANCELLED: 3 })).toBe('CANCELLED');
    expect(sweepState({ COMPLETED: 1, CANCELLED: 2, OUT_OF_MEMORY: 1 })).toBe('COMPLETED_WITH_FAILURES');
    expect(sweepState({ FAILED: 4, SUBMIT_FAILED: 2 })).toBe('FAILED');
    expect(sweepState({ SUBMIT_FAILED: 6 })).toBe('FAILED');
    // UNKNOWN is not an end: the sweep waits for SLURM's word rather than guessing.
    expect(sweepState({ COMPLETED: 5, UNKNOWN: 1 })).toBe('PENDING');
  });
});

describe('arraySpec', () => {
  it("writes sbatch's --array value: indexes folded into ranges, then the throttle", () => {
    expect(arraySpec([0, 1, 2, 3, 4, 5], 2)).toBe('0-5%2');
    expect(arraySpec([5], 1)).toBe('5%1');
    expect(arraySpec([7, 3, 4, 9, 10, 11, 3], 64)).toBe('3-4,7,9-11%64');
    expect(arraySpec(Array.from({ length: 1000 }, (_, index) => index), 64)).toBe('0-999%64');
  });
});
