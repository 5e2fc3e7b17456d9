// Jobs: lists, one job, its log, its lineage, and what can be done to it.
import { JobRowFields } from '../components/job-row.fragment';
import { applyJobUpdate, isActive } from '../lib/job-list';
import { failure, mutate, query, subscribe, unwrap } from './client';
import { FailureFields, graphql, type ResultOf, type VariablesOf } from './graphql';
import { createLive, prefetch } from './live';

/** A job as lists hold it and as jobUpdated delivers it: its row, and what the job screen and actions read. */
export const JobSummaryFields = graphql(
  `
  fragment JobSummary on Job @_unmask {
    ...JobRow
    projectId tag slurmState slurmJobId signal parentId wandbUrl elapsedSeconds submitError sweepId arrayIndex restarts
    reasonExplained { action blocked }
  }
`,
  [JobRowFields],
);

/** A launch's settings, as submitted: the job screen shows them, the launch form is filled from them. */
export const JobInputFields = graphql(`
  fragment JobInputValue on JobInputValue @_unmask {
    projectId cluster name description partition account qos nodes gpusPerNode gpuType cpusPerTask memory timeLimit
    primary groups { group option options } parameters { path value add } rawOverrides parentJobId allowUnpushed
    resume { maxRestarts signalSeconds override }
  }
`);

const JobDetailFields = graphql(
  `
  fragment JobDetail on Job @_unmask {
    ...JobSummary
    commitSha branch lastSeenAt metricNames
    input { ...JobInputValue overrides }
    requeues { at runStartedAt cause }
    project { id name headSha }
    dependsOn { kind jobId sweepId }
    sweep { id name size }
  }
`,
  [JobSummaryFields, JobInputFields],
);

export type JobSummary = ResultOf<typeof JobSummaryFields>;
export type JobState = JobSummary['state'];
export type JobDetail = ResultOf<typeof JobDetailFields>;
export type JobInputValue = ResultOf<typeof JobInputFields>;

// Written into HomeJobs too: the server's cost limit multiplies by a literal `first`, so the cost it sees is real.
const RECENT_LIMIT = 60;

const JOBS = graphql(
  `
  query Jobs($filter: JobFilter, $first: Int, $after: String) {
    jobs(filter: $filter, first: $first, after: $after) { nodes { ...JobSummary } pageInfo { endCursor hasNextPage } }
  }
`,
  [JobSummaryFields],
);
const JOB_UPDATED = graphql(
  `
  subscription JobUpdated($projectId: Int, $jobIds: [Int!], $sweepId: Int) { jobUpdated(projectId: $projectId, jobIds: $jobIds, sweepId: $sweepId) { ...JobSummary } }
`,
  [JobSummaryFields],
);
const HOME_JOBS = graphql(
  `
  query HomeJobs($active: [JobState!]) {
    recent: jobs(first: 60, filter: { archived: false }) { nodes { projectId ...JobRow } }
    active: jobs(first: 200, filter: { states: $active }) { nodes { projectId ...JobRow } }
  }
`,
  [JobRowFields],
);
const JOB = graphql(
  `
  query Job($id: Int!) {
    job(id: $id) { __typename ... on QueryJobSuccess { data { ...JobDetail } } ...Failure }
  }
`,
  [JobDetailFields, FailureFields],
);
const JOB_LOG = graphql(
  `
  query JobLog($id: Int!) {
    job(id: $id) {
      __typename
      ... on QueryJobSuccess { data { log { __typename ... on JobLogSuccess { data { text sizeBytes truncated wandbUrl } } ...Failure } } }
      ...Failure
    }
  }
`,
  [FailureFields],
);
const JOB_LOG_LIVE = graphql(
  `
  subscription JobLogLive($jobId: Int!, $fromByte: ByteOffset) {
    jobLog(jobId: $jobId, fromByte: $fromByte) { __typename ... on JobLogChunk { jobId fromByte text } ...Failure }
  }
`,
  [FailureFields],
);
const JOB_SCRIPT = graphql(
  `
  query JobScript($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { script name tag } } ...Failure } }
`,
  [FailureFields],
);
const CANCEL_JOB = graphql(
  `
  mutation CancelJob($id: Int!) { cancelJob(id: $id) { __typename ... on MutationCancelJobSuccess { data { ...JobSummary } } ...Failure } }
`,
  [JobSummaryFields, FailureFields],
);
const ARCHIVE_JOB = graphql(
  `
  mutation ArchiveJob($id: Int!, $cleanup: Boolean) {
    archiveJob(id: $id, cleanup: $cleanup) { __typename ... on MutationArchiveJobSuccess { data { ...JobSummary } } ...Failure }
  }
`,
  [JobSummaryFields, FailureFields],
);
const UNARCHIVE_JOB = graphql(
  `
  mutation UnarchiveJob($id: Int!) { unarchiveJob(id: $id) { __typename ... on MutationUnarchiveJobSuccess { data { ...JobSummary } } ...Failure } }
`,
  [JobSummaryFields, FailureFields],
);
const LINEAGE = graphql(
  `
  query Lineage($projectId: Int!) {
    jobLineage(projectId: $projectId) { __typename ... on QueryJobLineageSuccess { data { parentId changes job { ...JobSummary } } } ...Failure }
  }
`,
  [JobSummaryFields, FailureFields],
);

export type JobFilter = NonNullable<VariablesOf<typeof JOBS>['filter']>;
export type JobPage = ResultOf<typeof JOBS>['jobs'];
export type LineageNode = Extract<ResultOf<typeof LINEAGE>['jobLineage'], { __typename: 'QueryJobLineageSuccess' }>['data'][number];

export async function fetchJobs(filter: JobFilter, first = 50, after: string | null = null): Promise<JobPage> {
  return (await query(JOBS, { filter, first, after })).jobs;
}

/** Every jobUpdated of the given scope (all jobs when both are omitted). */
export function onJobUpdated(scope: { projectId?: number; jobIds?: number[]; sweepId?: number }, handler: (job: JobSummary) => void): () => void {
  return subscribe(JOB_UPDATED, scope, (data) => handler(data.jobUpdated));
}

/** Home's jobs: the newest ones (for each project's latest) and every active one (counts, "my running jobs"). */
export function createHomeJobsLive() {
  return createLive({
    key: () => 'home:jobs',
    load: async () => {
      const data = await query(HOME_JOBS, { active: ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'] });
      return { recent: data.recent.nodes, active: data.active.nodes };
    },
    live: (update) =>
      onJobUpdated({}, (job) =>
        // A sweep's tasks are its one line on Home (the query leaves them out too), never job rows.
        update((current) => (job.sweepId !== null ? current : {
          recent: applyJobUpdate(current.recent, job, { matches: (entry) => !entry.archived, removeUnmatched: true, limit: RECENT_LIMIT }),
          active: applyJobUpdate(current.active, job, { matches: (entry) => isActive(entry.state), removeUnmatched: true }),
        })),
      ),
  });
}

export async function fetchJob(id: number): Promise<JobDetail> {
  return unwrap((await query(JOB, { id })).job, 'QueryJobSuccess');
}

export const prefetchJob = (id: number) => prefetch(`job:${id}`, () => fetchJob(id));

/** One job with everything the job screen shows, its state kept current by jobUpdated. */
export function createJobLive(id: () => number | null) {
  return createLive<JobDetail>({
    key: () => id() !== null && `job:${id()}`,
    load: () => fetchJob(id()!),
    live: (update) => {
      const jobId = id();
      if (jobId === null) return;
      return onJobUpdated({ jobIds: [jobId] }, (job) => {
        let restarted = false;
        update((current) => {
          restarted = job.restarts !== current.restarts;
          return { ...current, ...job };
        });
        // A restart adds a run to the timeline (requeues), which jobUpdated, a row's fields, does not carry.
        if (restarted) void fetchJob(jobId).then((detail) => update(() => detail), () => undefined);
      });
    },
  });
}

export async function fetchJobLog(id: number) {
  return unwrap(unwrap((await query(JOB_LOG, { id })).job, 'QueryJobSuccess').log, 'JobLogSuccess');
}

export type JobLogChunk = Extract<ResultOf<typeof JOB_LOG_LIVE>['jobLog'], { __typename: 'JobLogChunk' }>;

/** A refusal (the cluster streams as many logs as it may, or no such job) comes as the stream's one event. */
export function followJobLog(jobId: number, fromByte: number | null, onChunk: (chunk: JobLogChunk) => void, onError?: (error: Error) => void): () => void {
  return subscribe(
    JOB_LOG_LIVE,
    { jobId, fromByte },
    ({ jobLog }) => {
      if (jobLog.__typename === 'JobLogChunk') onChunk(jobLog);
      else onError?.(failure(jobLog));
    },
    onError,
  );
}

export async function fetchJobScript(id: number) {
  return unwrap((await query(JOB_SCRIPT, { id })).job, 'QueryJobSuccess');
}

export async function cancelJob(id: number): Promise<JobSummary> {
  return unwrap((await mutate(CANCEL_JOB, { id })).cancelJob, 'MutationCancelJobSuccess');
}

export async function archiveJob(id: number, cleanup: boolean): Promise<JobSummary> {
  return unwrap((await mutate(ARCHIVE_JOB, { id, cleanup })).archiveJob, 'MutationArchiveJobSuccess');
}

export async function unarchiveJob(id: number): Promise<JobSummary> {
  return unwrap((await mutate(UNARCHIVE_JOB, { id })).unarchiveJob, 'MutationUnarchiveJobSuccess');
}

export async function fetchLineage(projectId: number): Promise<LineageNode[]> {
  return unwrap((await query(LINEAGE, { projectId })).jobLineage, 'QueryJobLineageSuccess');
}
