// Sweeps: a Hydra multirun launched as one job array, read as one thing (its line, its screen with a row per run),
// kept current by sweepUpdated (counts, throttle, retries, end) and jobUpdated (each task's own changes).
import { applySweepUpdate, applyTaskUpdate } from '../lib/sweep-table';
import { mutate, query, subscribe, unwrap } from './client';
import { FailureFields, graphql, type ResultOf } from './graphql';
import { JobInputFields, onJobUpdated } from './jobs';
import { createLive, prefetch } from './live';

/** What a sweep's one line shows (Home, project), and what sweepUpdated delivers. */
export const SweepSummaryFields = graphql(`
  fragment SweepSummary on Sweep @_unmask {
    id projectId name cluster state size throttle retries archived createdAt endedAt
    counts { state count }
  }
`);

/** A run's current task, as the sweep's table shows it. */
const SweepTaskFields = graphql(`
  fragment SweepTask on Job @_unmask {
    id state reason exitCode startedAt endedAt elapsedSeconds slurmJobId
  }
`);

const SweepDetailFields = graphql(
  `
  fragment SweepDetail on Sweep @_unmask {
    ...SweepSummary
    tag commitSha arrayJobId definition varying updatedAt
    project { id name }
    input { ...JobInputValue }
    runs { index values task { ...SweepTask } }
  }
`,
  [SweepSummaryFields, SweepTaskFields, JobInputFields],
);

export type SweepSummary = ResultOf<typeof SweepSummaryFields>;
export type SweepDetail = ResultOf<typeof SweepDetailFields>;
export type SweepRun = SweepDetail['runs'][number];
export type SweepTask = ResultOf<typeof SweepTaskFields>;
export type SweepState = SweepSummary['state'];

// The server's cost limit multiplies by a literal `first`: the lines Home and a project show.
const SWEEP_LINES = 20;

const SWEEPS = graphql(
  `
  query Sweeps($filter: SweepFilter) {
    sweeps(filter: $filter, first: 20) { nodes { ...SweepSummary } }
  }
`,
  [SweepSummaryFields],
);
const SWEEP = graphql(
  `
  query Sweep($id: Int!) {
    sweep(id: $id) { __typename ... on QuerySweepSuccess { data { ...SweepDetail } } ...Failure }
  }
`,
  [SweepDetailFields, FailureFields],
);
const SWEEP_UPDATED = graphql(
  `
  subscription SweepUpdated($projectId: Int, $sweepIds: [Int!]) { sweepUpdated(projectId: $projectId, sweepIds: $sweepIds) { ...SweepSummary } }
`,
  [SweepSummaryFields],
);
const CANCEL_SWEEP = graphql(
  `
  mutation CancelSweep($id: Int!, $onlyPending: Boolean) {
    cancelSweep(id: $id, onlyPending: $onlyPending) { __typename ... on MutationCancelSweepSuccess { data { ...SweepSummary } } ...Failure }
  }
`,
  [SweepSummaryFields, FailureFields],
);
const SET_SWEEP_THROTTLE = graphql(
  `
  mutation SetSweepThrottle($id: Int!, $max: Int!) {
    setSweepThrottle(id: $id, max: $max) { __typename ... on MutationSetSweepThrottleSuccess { data { ...SweepSummary } } ...Failure }
  }
`,
  [SweepSummaryFields, FailureFields],
);
// The relaunch answers with every run: the failed rows now hold their new tasks.
const RELAUNCH_FAILED = graphql(
  `
  mutation RelaunchFailedTasks($id: Int!) {
    relaunchFailedTasks(id: $id) { __typename ... on MutationRelaunchFailedTasksSuccess { data { ...SweepDetail } } ...Failure }
  }
`,
  [SweepDetailFields, FailureFields],
);
const DEPENDENCY_JOB = graphql(
  `
  query DependencyJob($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { id name state } } ...Failure } }
`,
  [FailureFields],
);
const DEPENDENCY_SWEEP = graphql(
  `
  query DependencySweep($id: Int!) { sweep(id: $id) { __typename ... on QuerySweepSuccess { data { id name state } } ...Failure } }
`,
  [FailureFields],
);

/** Every sweepUpdated of the given scope (all sweeps when both are omitted). */
export function onSweepUpdated(scope: { projectId?: number; sweepIds?: number[] }, handler: (sweep: SweepSummary) => void): () => void {
  return subscribe(SWEEP_UPDATED, scope, (data) => handler(data.sweepUpdated));
}

/** The newest sweeps as one line each (of a project, or of all), kept current; archived ones left out. */
export function createSweepLinesLive(projectId: () => number | null | undefined) {
  return createLive<SweepSummary[]>({
    key: () => projectId() !== null && `sweeps:${projectId() ?? 'all'}`,
    load: async () => (await query(SWEEPS, { filter: { projectId: projectId() ?? undefined, archived: false } })).sweeps.nodes,
    live: (update) => {
      const scope = projectId();
      return onSweepUpdated(scope == null ? {} : { projectId: scope }, (sweep) => update((lines) => applySweepUpdate(lines, sweep, SWEEP_LINES)));
    },
  });
}

export async function fetchSweep(id: number): Promise<SweepDetail> {
  return unwrap((await query(SWEEP, { id })).sweep, 'QuerySweepSuccess');
}

export const prefetchSweep = (id: number) => prefetch(`sweep:${id}`, () => fetchSweep(id));

/**
 * One sweep with every run, kept current: its counts and settings by sweepUpdated, each row by its task's
 * jobUpdated. A relaunch's new tasks arrive as jobUpdated of a newer task at the same index and replace the failed
 * ones in place.
 */
export function createSweepLive(id: () => number | null) {
  return createLive<SweepDetail>({
    key: () => id() !== null && `sweep:${id()}`,
    load: () => fetchSweep(id()!),
    // A thousand runs are past the offline copy's budget per entry (it would keep none, after serialising them).
    persist: false,
    live: (update) => {
      const sweepId = id();
      if (sweepId === null) return;
      const stopSweep = onSweepUpdated({ sweepIds: [sweepId] }, (sweep) => update((current) => ({ ...current, ...sweep })));
      // Subscribed before the read, so no task change is lost.
      const stopTasks = onJobUpdated({ sweepId }, (job) => {
        if (job.arrayIndex !== null) update((current) => ({ ...current, runs: applyTaskUpdate(current.runs, job.arrayIndex!, job) }));
      });
      return () => {
        stopSweep();
        stopTasks();
      };
    },
  });
}

export async function cancelSweep(id: number, onlyPending: boolean): Promise<SweepSummary> {
  return unwrap((await mutate(CANCEL_SWEEP, { id, onlyPending })).cancelSweep, 'MutationCancelSweepSuccess');
}

export async function setSweepThrottle(id: number, max: number): Promise<SweepSummary> {
  return unwrap((await mutate(SET_SWEEP_THROTTLE, { id, max })).setSweepThrottle, 'MutationSetSweepThrottleSuccess');
}

export async function relaunchFailedTasks(id: number): Promise<SweepDetail> {
  return unwrap((await mutate(RELAUNCH_FAILED, { id })).relaunchFailedTasks, 'MutationRelaunchFailedTasksSuccess');
}

/** What a dependency names, as the job screen words it: a job's or a sweep's name and state. */
export async function fetchDependencyTarget(target: { jobId?: number | null; sweepId?: number | null }): Promise<{ name: string; state: string } | null> {
  if (target.jobId != null) return unwrap((await query(DEPENDENCY_JOB, { id: target.jobId })).job, 'QueryJobSuccess');
  if (target.sweepId != null) return unwrap((await query(DEPENDENCY_SWEEP, { id: target.sweepId })).sweep, 'QuerySweepSuccess');
  return null;
}
