// The sweep screen's rules, pure so they are tested apart from it: how a run's task takes in an update, how the
// table sorts and filters its runs, which rows are drawn for a scroll position, and how task counts are summed up.
import type { JobState } from '../api/jobs';
import { STATE_FILTERS } from './job-list';
import { secondsBetween, stateGlyph, stateTone, type Tone } from './format';

/** What these rules read of a task (the table's fragment, or a jobUpdated's JobSummary). */
export interface TaskFacts {
  id: number;
  state: JobState;
  exitCode: number | null;
  startedAt: string | null;
  endedAt: string | null;
  elapsedSeconds: number | null;
}

export interface RunFacts<T extends TaskFacts = TaskFacts> {
  index: number;
  values: string[];
  task: T | null;
}

/**
 * The runs after a task's jobUpdated: the run at its index takes it when it is that run's task or a newer one (a
 * relaunch's task has a higher id than the one it replaces; an old attempt's late event changes nothing).
 */
export function applyTaskUpdate<R extends RunFacts>(runs: readonly R[], index: number, task: Partial<TaskFacts> & { id: number }): R[] {
  const run = runs[index]?.index === index ? runs[index] : runs.find((entry) => entry.index === index);
  if (!run || (run.task && run.task.id > task.id)) return runs as R[];
  const merged = { ...(run.task && run.task.id === task.id ? run.task : {}), ...pick(task) } as R['task'];
  return runs.map((entry) => (entry === run ? { ...entry, task: merged } : entry));
}

// Only the task's own fields: a JobSummary carries many more the table does not keep.
function pick(task: Partial<TaskFacts> & { id: number }): Partial<TaskFacts> & { id: number } {
  const picked: Partial<TaskFacts> & { id: number } = { id: task.id };
  for (const key of ['state', 'reason', 'exitCode', 'startedAt', 'endedAt', 'elapsedSeconds', 'slurmJobId'] as const) {
    if (key in task) (picked as Record<string, unknown>)[key] = (task as Record<string, unknown>)[key];
  }
  return picked;
}

/** A list of sweeps' lines after a sweepUpdated: replaced in place, or inserted newest first (archived ones leave). */
export function applySweepUpdate<S extends { id: number; archived: boolean }>(lines: readonly S[], sweep: S, limit: number): S[] {
  if (sweep.archived) return lines.filter((line) => line.id !== sweep.id);
  if (lines.some((line) => line.id === sweep.id)) return lines.map((line) => (line.id === sweep.id ? { ...line, ...sweep } : line));
  const position = lines.findIndex((line) => line.id < sweep.id);
  const next = position < 0 ? [...lines, sweep] : [...lines.slice(0, position), sweep, ...lines.slice(position)];
  return next.slice(0, limit);
}

/** A task's runtime in seconds: while it runs, up to `now`; once ended, SLURM's elapsed time (or start to end). */
export function taskRuntime(task: TaskFacts | null, now: number): number | null {
  if (!task?.startedAt) return null;
  if (task.state === 'RUNNING' || task.state === 'COMPLETING') return secondsBetween(task.startedAt, now);
  return task.elapsedSeconds ?? secondsBetween(task.startedAt, task.endedAt);
}

/** A runtime in a table cell a phone can fit: "59s", "12m05s", "3h12m", "2d04h". */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (value: number) => String(value).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

// ---- sorting and filtering ----------------------------------------------------------------------------------

/**
 * A column: the run's index, one of Sweep.varying's values (by position), its task's state, runtime or exit code,
 * or the chosen metric's last and best values.
 */
export type SortColumn = 'index' | 'state' | 'runtime' | 'exit' | 'last' | 'best' | `value:${number}`;

/** A run's values of the chosen metric (null: none yet, or NaN/infinite). */
export interface RunMetric {
  last: number | null;
  best: number | null;
}
export interface SortOrder {
  column: SortColumn;
  descending: boolean;
}

// States in the order a person reads a sweep's progress: what failed first, then what runs, waits, and ended well.
const STATE_ORDER: JobState[] = ['FAILED', 'OUT_OF_MEMORY', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'SUBMIT_FAILED', 'UNKNOWN', 'RUNNING', 'COMPLETING', 'PENDING', 'SUBMITTING', 'COMPLETED', 'CANCELLED'];
const stateRank = (state: JobState | undefined) => (state === undefined ? STATE_ORDER.length : STATE_ORDER.indexOf(state));

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Sweep values compare as numbers when both are (`1e-3` < `0.01`), else as text with digits read as numbers. */
export function compareValues(a: string, b: string): number {
  if (NUMBER.test(a) && NUMBER.test(b)) return Number(a) - Number(b);
  return collator.compare(a, b);
}

/**
 * The runs in the order of one column, ties broken by index (so a re-sort after a live update keeps rows still). A
 * run without the value sorts last whichever the direction: empty runtimes and exit codes are not "zero".
 */
export function sortRuns<R extends RunFacts>(runs: readonly R[], order: SortOrder, now: number, metricOf?: (run: R) => RunMetric | undefined): R[] {
  const key = (run: R): number | string | null => {
    switch (order.column) {
      case 'last':
      case 'best':
        return metricOf?.(run)?.[order.column] ?? null;
      case 'index':
        return run.index;
      case 'state':
        return stateRank(run.task?.state);
      case 'runtime':
        return taskRuntime(run.task, now);
      case 'exit':
        return run.task?.exitCode ?? null;
      default:
        return run.values[Number(order.column.slice('value:'.length))] ?? null;
    }
  };
  const keyed = runs.map((run) => ({ run, key: key(run) }));
  const sign = order.descending ? -1 : 1;
  keyed.sort((a, b) => {
    if (a.key === null || b.key === null) return a.key === b.key ? a.run.index - b.run.index : a.key === null ? 1 : -1;
    const compared = typeof a.key === 'number' && typeof b.key === 'number' ? a.key - b.key : compareValues(String(a.key), String(b.key));
    return compared === 0 ? a.run.index - b.run.index : sign * compared;
  });
  return keyed.map((entry) => entry.run);
}

/** The filter chips: the project list's state groups (`all` shows every run). */
export const SWEEP_STATE_FILTERS = ['all', 'pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type SweepStateFilter = (typeof SWEEP_STATE_FILTERS)[number];

export const filterLabel = (filter: SweepStateFilter) => (filter === 'all' ? 'All' : STATE_FILTERS[filter]!.label);

/** Whether a run shows under a chip; a run not yet given a task waits, as SUBMITTING. */
export function runMatches(run: RunFacts, filter: SweepStateFilter): boolean {
  return filter === 'all' || STATE_FILTERS[filter]!.states.includes(run.task?.state ?? 'SUBMITTING');
}

/** How many runs each chip would show. */
export function filterCounts(runs: readonly RunFacts[]): Record<SweepStateFilter, number> {
  const counts = Object.fromEntries(SWEEP_STATE_FILTERS.map((filter) => [filter, 0])) as Record<SweepStateFilter, number>;
  for (const run of runs) for (const filter of SWEEP_STATE_FILTERS) if (runMatches(run, filter)) counts[filter]++;
  return counts;
}

// ---- windowing ----------------------------------------------------------------------------------------------

/**
 * The rows to draw, [start, end), for a list of fixed-height rows whose top is `listTop` px from the top of the
 * viewport (negative once scrolled past) in a viewport `viewportHeight` tall; `overscan` rows beyond each edge so a
 * fast flick does not show blank space before the next frame.
 */
export function visibleRange(options: { listTop: number; viewportHeight: number; rowHeight: number; count: number; overscan?: number }): { start: number; end: number } {
  const { listTop, viewportHeight, rowHeight, count } = options;
  const overscan = options.overscan ?? 8;
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(-listTop / rowHeight);
  // A list still below the fold draws its first screenful: it is what a reader scrolling down (or a link into a
  // row) reaches first, and what is above it may still grow (a chart loading) without a scroll to re-measure.
  const last = Math.max(Math.ceil((viewportHeight - listTop) / rowHeight), Math.ceil(viewportHeight / rowHeight));
  const start = Math.min(count, Math.max(0, first - overscan));
  const end = Math.max(start, Math.min(count, last + overscan));
  return { start, end };
}

// ---- summary ------------------------------------------------------------------------------------------------

export interface SummarySegment {
  tone: Tone;
  label: string;
  glyph: string;
  count: number;
  /** Its share of the bar, in percent. */
  percent: number;
}

const TONE_ORDER: Tone[] = ['ok', 'bad', 'run', 'wait', 'off'];
const TONE_LABEL: Record<Tone, string> = { ok: 'completed', bad: 'failed', run: 'running', wait: 'waiting', off: 'cancelled' };

/**
 * The summary bar: counts by tone (completed, failed, running, waiting, cancelled), in that order, each with its
 * share of the sweep's size; runs with no task yet count as waiting.
 */
export function summarySegments(counts: readonly { state: JobState; count: number }[], size: number): SummarySegment[] {
  const byTone = new Map<Tone, number>();
  let counted = 0;
  for (const { state, count } of counts) {
    byTone.set(stateTone(state), (byTone.get(stateTone(state)) ?? 0) + count);
    counted += count;
  }
  if (size > counted) byTone.set('wait', (byTone.get('wait') ?? 0) + size - counted);
  const total = Math.max(size, counted);
  return TONE_ORDER.filter((tone) => (byTone.get(tone) ?? 0) > 0).map((tone) => {
    const count = byTone.get(tone)!;
    return { tone, label: TONE_LABEL[tone], glyph: GLYPH_OF_TONE[tone], count, percent: total ? (count / total) * 100 : 0 };
  });
}

const GLYPH_OF_TONE: Record<Tone, string> = { ok: stateGlyph('COMPLETED'), bad: stateGlyph('FAILED'), run: stateGlyph('RUNNING'), wait: stateGlyph('PENDING'), off: stateGlyph('CANCELLED') };

/** A sweep's counts in one short line: "14 ✓ 2 ✕ 3 running 1 waiting". */
export function countsText(counts: readonly { state: JobState; count: number }[], size: number): string {
  return summarySegments(counts, size)
    .map((segment) => (segment.tone === 'ok' || segment.tone === 'bad' ? `${segment.count} ${segment.glyph}` : `${segment.count} ${segment.label}`))
    .join(' ');
}

/** How many runs a relaunch would run again: ended without completing, and not cancelled (as the server counts). */
export function failedCount(counts: readonly { state: JobState; count: number }[]): number {
  return counts.filter(({ state }) => stateTone(state) === 'bad').reduce((sum, { count }) => sum + count, 0);
}

/** A sweep's state as its badge says it; one with a failed task is never shown as plainly completed. */
export const SWEEP_STATE_LABELS = {
  SUBMITTING: { label: 'Submitting', tone: 'wait' },
  PENDING: { label: 'Pending', tone: 'wait' },
  RUNNING: { label: 'Running', tone: 'run' },
  COMPLETED: { label: 'Completed', tone: 'ok' },
  COMPLETED_WITH_FAILURES: { label: 'Completed with failures', tone: 'bad' },
  FAILED: { label: 'Failed', tone: 'bad' },
  CANCELLED: { label: 'Cancelled', tone: 'off' },
} as const satisfies Record<string, { label: string; tone: Tone }>;
