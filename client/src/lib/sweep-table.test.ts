import { describe, expect, it } from 'vitest';
import type { JobState } from '../api/jobs';
import { applySweepUpdate, applyTaskUpdate, compareValues, countsText, failedCount, filterCounts, runMatches, shortDuration, sortRuns, summarySegments, taskRuntime, visibleRange, type RunFacts, type TaskFacts } from './sweep-table';

const task = (id: number, state: JobState, changes: Partial<TaskFacts> = {}): TaskFacts => ({ id, state, exitCode: null, startedAt: null, endedAt: null, elapsedSeconds: null, ...changes });
const run = (index: number, values: string[], t: TaskFacts | null): RunFacts => ({ index, values, task: t });

describe('a sweep’s table', () => {
  const runs = [
    run(0, ['1', 'resnet'], task(10, 'COMPLETED', { exitCode: 0, startedAt: '2026-01-01T00:00:00Z', elapsedSeconds: 30 })),
    run(1, ['10', 'vit'], task(11, 'FAILED', { exitCode: 3, startedAt: '2026-01-01T00:00:00Z', elapsedSeconds: 5 })),
    run(2, ['2', 'resnet'], task(12, 'RUNNING', { startedAt: '2026-01-01T00:00:00Z' })),
    run(3, ['1e-3', 'vit'], task(13, 'PENDING')),
    run(4, ['0.5', 'resnet'], null),
  ];
  const now = Date.parse('2026-01-01T00:01:00Z');
  const order = (column: Parameters<typeof sortRuns>[1]['column'], descending = false) => sortRuns(runs, { column, descending }, now).map((entry) => entry.index);

  it('sorts by a varying value as numbers when they are, with ties and missing values kept stable', () => {
    expect(order('value:0')).toEqual([3, 4, 0, 2, 1]);
    expect(order('value:0', true)).toEqual([1, 2, 0, 4, 3]);
    expect(order('value:1')).toEqual([0, 2, 4, 1, 3]);
    expect(order('value:1', true)).toEqual([1, 3, 0, 2, 4]);
    expect(compareValues('run9', 'run10')).toBeLessThan(0);
  });

  it('sorts by state (failures first), runtime (running up to now) and exit code, empty cells last either way', () => {
    expect(order('state')).toEqual([1, 2, 3, 0, 4]);
    expect(order('runtime')).toEqual([1, 0, 2, 3, 4]);
    expect(order('runtime', true)).toEqual([2, 0, 1, 3, 4]);
    expect(order('exit', true)).toEqual([1, 0, 2, 3, 4]);
    expect(order('index', true)).toEqual([4, 3, 2, 1, 0]);
    expect(taskRuntime(runs[2]!.task, now)).toBe(60);
    expect([5, 65, 3725, 200_000].map(shortDuration)).toEqual(['5s', '1m05s', '1h02m', '2d07h']);
  });

  it('sorts by the chosen metric’s last or best value; a run without one (none yet, NaN) last either way', () => {
    const metric = new Map([
      [0, { last: 0.5, best: 0.2 }],
      [1, { last: null, best: 0.1 }],
      [2, { last: 0.3, best: 0.3 }],
    ]);
    const byMetric = (column: 'last' | 'best', descending = false) => sortRuns(runs, { column, descending }, now, (entry) => metric.get(entry.index)).map((entry) => entry.index);
    expect(byMetric('last')).toEqual([2, 0, 1, 3, 4]);
    expect(byMetric('last', true)).toEqual([0, 2, 1, 3, 4]);
    expect(byMetric('best')).toEqual([1, 0, 2, 3, 4]);
    expect(byMetric('best', true)).toEqual([2, 0, 1, 3, 4]);
    // No metric chosen: the columns are empty, the order is the index's.
    expect(order('best')).toEqual([0, 1, 2, 3, 4]);
  });

  it('filters by state group; a run without its task yet waits', () => {
    expect(runs.filter((entry) => runMatches(entry, 'pending')).map((entry) => entry.index)).toEqual([3, 4]);
    expect(runs.filter((entry) => runMatches(entry, 'failed')).map((entry) => entry.index)).toEqual([1]);
    expect(filterCounts(runs)).toEqual({ all: 5, pending: 2, running: 1, completed: 1, failed: 1, cancelled: 0 });
  });

  it('takes a task update at its index, and a relaunch’s newer task, never an older attempt’s late event', () => {
    const updated = applyTaskUpdate(runs, 2, { ...task(12, 'COMPLETED', { exitCode: 0 }), name: 'not kept' } as TaskFacts);
    expect(updated[2]!.task).toMatchObject({ id: 12, state: 'COMPLETED', exitCode: 0, startedAt: null });
    expect(updated[2]!.task).not.toHaveProperty('name');
    expect(updated[0]).toBe(runs[0]);
    const relaunched = applyTaskUpdate(runs, 1, task(20, 'SUBMITTING'));
    expect(relaunched[1]!.task).toEqual(task(20, 'SUBMITTING'));
    expect(applyTaskUpdate(relaunched, 1, task(11, 'FAILED', { exitCode: 3 }))[1]!.task!.id).toBe(20);
    expect(applyTaskUpdate(runs, 4, task(14, 'PENDING'))[4]!.task!.id).toBe(14);
    expect(applyTaskUpdate(runs, 9, task(19, 'PENDING'))).toBe(runs);
  });
});

describe('windowing', () => {
  it('draws the rows in view plus an overscan, clamped to the list', () => {
    expect(visibleRange({ listTop: 300, viewportHeight: 800, rowHeight: 50, count: 1000, overscan: 2 })).toEqual({ start: 0, end: 18 });
    expect(visibleRange({ listTop: -5000, viewportHeight: 800, rowHeight: 50, count: 1000, overscan: 2 })).toEqual({ start: 98, end: 118 });
    expect(visibleRange({ listTop: -49_900, viewportHeight: 800, rowHeight: 50, count: 1000, overscan: 2 })).toEqual({ start: 996, end: 1000 });
    // Below the fold: its first screenful, ready for a reader scrolling down.
    expect(visibleRange({ listTop: 2000, viewportHeight: 800, rowHeight: 50, count: 1000, overscan: 2 })).toEqual({ start: 0, end: 18 });
    expect(visibleRange({ listTop: 0, viewportHeight: 800, rowHeight: 50, count: 0 })).toEqual({ start: 0, end: 0 });
  });
});

describe('a sweep’s summary', () => {
  const counts = [
    { state: 'COMPLETED', count: 14 },
    { state: 'TIMEOUT', count: 1 },
    { state: 'FAILED', count: 1 },
    { state: 'RUNNING', count: 3 },
    { state: 'CANCELLED', count: 0 },
  ] as Array<{ state: JobState; count: number }>;

  it('groups counts by tone in reading order, runs without a task as waiting', () => {
    const segments = summarySegments(counts, 20);
    expect(segments.map((segment) => [segment.label, segment.count, segment.percent])).toEqual([
      ['completed', 14, 70],
      ['failed', 2, 10],
      ['running', 3, 15],
      ['waiting', 1, 5],
    ]);
    expect(countsText(counts, 20)).toBe('14 ✓ 2 ✕ 3 running 1 waiting');
    expect(countsText([], 6)).toBe('6 waiting');
    expect(failedCount(counts)).toBe(2);
  });

  it('keeps a list of sweep lines current, newest first, archived ones out', () => {
    const lines = [{ id: 5, archived: false, name: 'a' }, { id: 3, archived: false, name: 'b' }];
    expect(applySweepUpdate(lines, { id: 4, archived: false, name: 'c' }, 20).map((line) => line.id)).toEqual([5, 4, 3]);
    expect(applySweepUpdate(lines, { id: 3, archived: false, name: 'B' }, 20)[1]!.name).toBe('B');
    expect(applySweepUpdate(lines, { id: 5, archived: true, name: 'a' }, 20).map((line) => line.id)).toEqual([3]);
    expect(applySweepUpdate(lines, { id: 9, archived: false, name: 'd' }, 2).map((line) => line.id)).toEqual([9, 5]);
  });
});
