// How a live list of jobs takes in one jobUpdated event. Pure, so the rules are tested apart from the screens.
import type { JobState, JobSummary } from '../api/jobs';

export const ACTIVE_STATES: readonly JobState[] = ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'];
export const TERMINAL_STATES: readonly JobState[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'SUBMIT_FAILED'];

export const isActive = (state: JobState) => ACTIVE_STATES.includes(state);
export const isTerminal = (state: JobState) => TERMINAL_STATES.includes(state);

/** What the list rules read of a job. */
type ListedJob = Pick<JobSummary, 'id' | 'projectId' | 'cluster' | 'state' | 'archived' | 'name' | 'description' | 'sweepId'>;

export interface ApplyOptions<J> {
  /** Whether the job belongs in this list (its filter). */
  matches: (job: J) => boolean;
  /**
   * Drop a listed job that stops matching ("my running jobs"). Filtered lists the user is reading keep the row
   * with its new state instead, so nothing vanishes under a finger.
   */
  removeUnmatched?: boolean;
  /** Longest list to keep (newest first). */
  limit?: number;
}

/** The list after an update: replaced in place, inserted in id order (newest first), or dropped. */
export function applyJobUpdate<J extends Pick<ListedJob, 'id'>>(list: readonly J[], job: J, options: ApplyOptions<J>): J[] {
  const index = list.findIndex((entry) => entry.id === job.id);
  const matches = options.matches(job);
  if (index >= 0) {
    if (!matches && options.removeUnmatched) return list.filter((entry) => entry.id !== job.id);
    return list.map((entry) => (entry.id === job.id ? { ...entry, ...job } : entry));
  }
  if (!matches) return [...list];
  const position = list.findIndex((entry) => entry.id < job.id);
  const next = position < 0 ? [...list, job] : [...list.slice(0, position), job, ...list.slice(position)];
  return options.limit ? next.slice(0, options.limit) : next;
}

/** Running and pending counts of our jobs per cluster. */
export function countByCluster(jobs: readonly Pick<ListedJob, 'cluster' | 'state'>[]): Map<string, { running: number; pending: number }> {
  const counts = new Map<string, { running: number; pending: number }>();
  for (const job of jobs) {
    const entry = counts.get(job.cluster) ?? { running: 0, pending: 0 };
    if (job.state === 'RUNNING' || job.state === 'COMPLETING') entry.running++;
    else if (job.state === 'PENDING' || job.state === 'SUBMITTING') entry.pending++;
    counts.set(job.cluster, entry);
  }
  return counts;
}

/** Each project's newest jobs, at most `perProject`, from a newest-first list. */
export function latestByProject<J extends Pick<ListedJob, 'projectId'>>(jobs: readonly J[], perProject: number): Map<number, J[]> {
  const byProject = new Map<number, J[]>();
  for (const job of jobs) {
    const entries = byProject.get(job.projectId) ?? [];
    if (entries.length < perProject) entries.push(job);
    byProject.set(job.projectId, entries);
  }
  return byProject;
}

export interface ListFilter {
  states?: readonly JobState[] | null;
  cluster?: string | null;
  search?: string | null;
  /** false hides archived jobs; undefined shows both. */
  archived?: boolean | null;
  /** A sweep's tasks only; as the server's filter, without it (or `tasks`) a list holds single launches only. */
  sweepId?: number | null;
  tasks?: boolean | null;
}

/** Whether a job belongs in a list filtered like the server's `jobs(filter)` (search: name or description). */
export function jobMatches(filter: ListFilter, job: ListedJob): boolean {
  // jobUpdated also carries sweeps' tasks: a sweep is one line of its own, never a thousand job rows.
  if (filter.sweepId != null ? job.sweepId !== filter.sweepId : job.sweepId != null && !filter.tasks) return false;
  if (filter.states?.length && !filter.states.includes(job.state)) return false;
  if (filter.cluster && job.cluster !== filter.cluster) return false;
  if (filter.archived !== undefined && filter.archived !== null && job.archived !== filter.archived) return false;
  const search = filter.search?.trim();
  if (search && !textMatches(search, job.name) && !textMatches(search, job.description)) return false;
  return true;
}

/** A word as the server's search index cuts them (FTS5's unicode61: letters, numbers, private use). */
const WORD = /[\p{L}\p{N}\p{Co}]+/gu;
const ENDS_IN_WORD = /[\p{L}\p{N}\p{Co}]$/u;

/**
 * The server's job search (server/jobs/search.ts), so a job changed live stays in a searched list exactly when the
 * server would list it: the typed words in their order, adjacent, each a whole word but the last, which is the start
 * of one unless the text ends after it ("vit-la" finds "vit-large", "large" does not find "vitlarge", "100%" does
 * not find "1000"); text without any word ("%") as written, anywhere.
 */
export function textMatches(search: string, text: string): boolean {
  const wanted = search.toLowerCase().match(WORD);
  if (!wanted) return text.toLowerCase().includes(search.toLowerCase());
  const words = text.toLowerCase().match(WORD) ?? [];
  const lastIsPrefix = ENDS_IN_WORD.test(search);
  const last = wanted.length - 1;
  for (let start = 0; start + wanted.length <= words.length; start++) {
    if (wanted.every((word, k) => (k === last && lastIsPrefix ? words[start + k]!.startsWith(word) : words[start + k] === word))) return true;
  }
  return false;
}

export const STATE_FILTERS: Record<string, { label: string; states: JobState[] }> = {
  all: { label: 'All states', states: [] },
  active: { label: 'Active', states: ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'] },
  pending: { label: 'Pending', states: ['SUBMITTING', 'PENDING'] },
  running: { label: 'Running', states: ['RUNNING', 'COMPLETING'] },
  completed: { label: 'Completed', states: ['COMPLETED'] },
  failed: { label: 'Failed', states: ['FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'SUBMIT_FAILED', 'PREEMPTED', 'UNKNOWN'] },
  cancelled: { label: 'Cancelled', states: ['CANCELLED'] },
};
