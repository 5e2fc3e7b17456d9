// What the Usage screen and the launch form make of the usage figures: chart lines, the wait table's words, the
// wait shown beside a launch choice.
import type { JobState } from '../api/jobs';
import type { QueueWait, Usage } from '../api/usage';
import type { ChartLine } from '../components/metric-chart';
import { duration, stateLabel } from './format';

/** One line per group: its GPU-hours each week of the range (0 in a week it used none), weeks as epoch seconds. */
export function gpuHourLines(usage: Usage): ChartLine[] {
  const weeks = usage.weeks.map((week) => Date.parse(week) / 1000);
  return usage.groups
    .filter((group) => group.gpuHours > 0)
    .map((group) => {
      const byWeek = new Map(usage.gpuHours.filter((point) => point.key === group.key).map((point) => [Date.parse(point.week) / 1000, point.gpuHours]));
      return { label: groupLabel(usage, group), points: weeks.map((step) => ({ step, value: round(byWeek.get(step) ?? 0), nonFinite: null })) };
    });
}

/** The outcome kinds, success first, in the order the chart and the lists give them. */
export const OUTCOME_ORDER: JobState[] = ['COMPLETED', 'FAILED', 'OUT_OF_MEMORY', 'TIMEOUT', 'CANCELLED', 'NODE_FAIL', 'PREEMPTED'];

/** One line per outcome kind that happened: the jobs that ended so each week, every group together. */
export function outcomeLines(usage: Usage): ChartLine[] {
  const weeks = usage.weeks.map((week) => Date.parse(week) / 1000);
  return OUTCOME_ORDER.filter((state) => usage.outcomes.some((count) => count.state === state)).map((state) => {
    const byWeek = new Map<number, number>();
    for (const count of usage.outcomes) if (count.state === state) byWeek.set(Date.parse(count.week) / 1000, (byWeek.get(Date.parse(count.week) / 1000) ?? 0) + count.jobs);
    return { label: outcomeLabel(state), points: weeks.map((step) => ({ step, value: byWeek.get(step) ?? 0, nonFinite: null })) };
  });
}

/** "Failed (exit code)" says what FAILED means among the kinds. */
export const outcomeLabel = (state: JobState) => (state === 'FAILED' ? 'Failed (exit code)' : stateLabel(state));

/** Each kind's count over the whole range, for one group (or all: key undefined). */
export function outcomeTotals(usage: Usage, key?: string | null): Array<{ state: JobState; jobs: number }> {
  return OUTCOME_ORDER.map((state) => ({ state, jobs: usage.outcomes.filter((count) => count.state === state && (key === undefined || count.key === key)).reduce((sum, count) => sum + count.jobs, 0) })).filter((total) => total.jobs > 0);
}

/** A group's name: a cluster, a project's name, a GPU type; jobs launched elsewhere have no project. */
export function groupLabel(usage: Pick<Usage, 'groupBy'>, group: { key: string | null; label: string | null }): string {
  if (usage.groupBy === 'PROJECT') return group.label ?? (group.key === null ? 'launched elsewhere' : `project ${group.key}`);
  if (usage.groupBy === 'GPU_TYPE') return gpuTypeLabel(group.key);
  return group.key ?? '—';
}

/**
 * A wait as people say it: "5 min", "4 h", "2 h 10 min" — duration()'s second part left out when it is zero — held
 * together by no-break spaces, so that a narrow screen never leaves "min" alone on the next line.
 */
export const waitDuration = (seconds: number) => duration(seconds).replace(/ 0 (s|min|h)$/, '').replaceAll(' ', '\u00a0');

export const gpuTypeLabel = (type: string | null) => (type === null ? 'all jobs' : type === 'none' ? 'no GPU' : type === 'any' ? 'any GPU type' : type);

/** "a100 on hpc: median wait 2 h 10 min this week" — each cluster's GPU types with a wait this week (else in 30 days). */
export function waitSentence(wait: QueueWait): string | null {
  const recent = wait.last7Days ?? wait.last30Days;
  if (!recent) return null;
  const what = wait.gpuType === null ? `Jobs on ${wait.cluster}` : wait.gpuType === 'none' ? `Jobs without GPUs on ${wait.cluster}` : `${gpuTypeLabel(wait.gpuType)} on ${wait.cluster}`;
  return `${what}${wait.partition ? ` (${wait.partition})` : ''}: median wait ${waitDuration(recent.medianSeconds)} ${wait.last7Days ? 'this week' : 'in the last 30 days'}`;
}

/**
 * The wait shown beside a launch choice: the cluster's (gpuType undefined) or one GPU type's, in the chosen
 * partition when it has any, else across partitions; this week's, else the last 30 days'. Null when no job started.
 */
export function recentWait(waits: readonly QueueWait[] | undefined, cluster: string, gpuType?: string, partition?: string): { medianSeconds: number; days: 7 | 30 } | null {
  if (!waits) return null;
  const type = gpuType === undefined || gpuType === '' ? null : gpuType;
  const find = (part: string | null) => waits.find((wait) => wait.cluster === cluster && wait.partition === part && wait.gpuType === type);
  const wait = (partition ? find(partition) : undefined) ?? find(null);
  if (wait?.last7Days) return { medianSeconds: wait.last7Days.medianSeconds, days: 7 };
  if (wait?.last30Days) return { medianSeconds: wait.last30Days.medianSeconds, days: 30 };
  return null;
}

/** "median wait 2 h 10 min (7 d)" under a field; "wait 2 h 10 min" in an option, which a phone cuts short. */
export function waitHint(...args: Parameters<typeof recentWait>): string | null {
  const wait = recentWait(...args);
  return wait && `median wait ${waitDuration(wait.medianSeconds)} (${wait.days} d)`;
}
export function waitOption(...args: Parameters<typeof recentWait>): string | null {
  const wait = recentWait(...args);
  return wait && `wait ${waitDuration(wait.medianSeconds)}`;
}

const round = (value: number) => Math.round(value * 100) / 100;
