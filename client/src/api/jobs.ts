// Jobs: lists, one job, its log, its lineage, and what can be done to it.
import { applyJobUpdate, isActive } from '../lib/job-list';
import { ApiError, graphql, mutate, query, subscribe, unwrap } from './client';
import { createLive, prefetch } from './live';
import type { JobDetail, JobInput, JobLog, JobLogChunk, JobState, JobSummary, LineageNode } from './types';

export const JOB_SUMMARY_FIELDS = `
  id projectId name description tag cluster state slurmState slurmJobId reason exitCode signal nodeList parentId archived wandbUrl
  createdAt submittedAt startedAt endedAt elapsedSeconds submitError
`;

export const JOB_INPUT_FIELDS = `
  projectId cluster name description partition account qos nodes gpusPerNode gpuType cpusPerTask memory timeLimit
  primary groups { group option } parameters { path value } rawOverrides parentJobId allowUnpushed
`;

const JOB_DETAIL_FIELDS = `${JOB_SUMMARY_FIELDS} commitSha branch lastSeenAt input { ${JOB_INPUT_FIELDS} } project { id name headSha }`;

const ERROR_FIELDS = '__typename ... on Error { message } ... on ValidationError { field }';

const RECENT_LIMIT = 60;

const JOBS = graphql(`query Jobs($filter: JobFilter, $first: Int, $after: String) { jobs(filter: $filter, first: $first, after: $after) { nodes { ${JOB_SUMMARY_FIELDS} } pageInfo { endCursor hasNextPage } } }`);
const JOB_UPDATED = graphql(`subscription JobUpdated($projectId: Int, $jobIds: [Int!]) { jobUpdated(projectId: $projectId, jobIds: $jobIds) { ${JOB_SUMMARY_FIELDS} } }`);
const HOME_JOBS = graphql(`query HomeJobs($active: [JobState!]) {
          recent: jobs(first: ${RECENT_LIMIT}, filter: { archived: false }) { nodes { ${JOB_SUMMARY_FIELDS} } }
          active: jobs(first: 200, filter: { states: $active }) { nodes { ${JOB_SUMMARY_FIELDS} } }
        }`);
const JOB = graphql(`query Job($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { ${JOB_DETAIL_FIELDS} } } ... on Error { message } } }`);
const JOB_LOG = graphql(`query JobLog($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { log { __typename ... on JobLogSuccess { data { text sizeBytes truncated wandbUrl } } ... on Error { message } } } } ... on Error { message } } }`);
const JOB_LOG_LIVE = graphql(
  `subscription JobLogLive($jobId: Int!, $fromByte: ByteOffset) { jobLog(jobId: $jobId, fromByte: $fromByte) { __typename ... on JobLogChunk { jobId fromByte text } ... on Error { message } } }`,
);
const JOB_SCRIPT = graphql(`query JobScript($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { script name tag } } ... on Error { message } } }`);
const CANCEL_JOB = graphql(`mutation CancelJob($id: Int!) { cancelJob(id: $id) { ${ERROR_FIELDS} ... on MutationCancelJobSuccess { data { ${JOB_SUMMARY_FIELDS} } } } }`);
const ARCHIVE_JOB = graphql(`mutation ArchiveJob($id: Int!, $cleanup: Boolean) { archiveJob(id: $id, cleanup: $cleanup) { ${ERROR_FIELDS} ... on MutationArchiveJobSuccess { data { ${JOB_SUMMARY_FIELDS} } } } }`);
const UNARCHIVE_JOB = graphql(`mutation UnarchiveJob($id: Int!) { unarchiveJob(id: $id) { __typename ... on Error { message } ... on MutationUnarchiveJobSuccess { data { ${JOB_SUMMARY_FIELDS} } } } }`);
const REFRESH_JOB = graphql(`mutation RefreshJob($id: Int!) { refreshJob(id: $id) { __typename ... on Error { message } ... on MutationRefreshJobSuccess { data { ${JOB_SUMMARY_FIELDS} } } } }`);
const LINEAGE = graphql(`query Lineage($projectId: Int!) { jobLineage(projectId: $projectId) { __typename ... on QueryJobLineageSuccess { data { parentId changes job { ${JOB_SUMMARY_FIELDS} } } } ... on Error { message } } }`);

export interface JobFilter {
  projectId?: number;
  states?: JobState[];
  cluster?: string;
  search?: string;
  archived?: boolean;
}

export interface JobPage {
  nodes: JobSummary[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
}

export async function fetchJobs(filter: JobFilter, first = 50, after: string | null = null): Promise<JobPage> {
  const data = await query<{ jobs: JobPage }>(
    JOBS,
    { filter, first, after },
  );
  return data.jobs;
}

/** Every jobUpdated of the given scope (all jobs when both are omitted). */
export function onJobUpdated(scope: { projectId?: number; jobIds?: number[] }, handler: (job: JobSummary) => void): () => void {
  return subscribe<{ jobUpdated: JobSummary }>(
    JOB_UPDATED,
    scope,
    (data) => handler(data.jobUpdated),
  );
}

export interface HomeJobs {
  recent: JobSummary[];
  active: JobSummary[];
}


/** Home's jobs: the newest ones (for each project's latest) and every active one (counts, "my running jobs"). */
export function createHomeJobsLive() {
  return createLive<HomeJobs>({
    key: () => 'home:jobs',
    load: async () => {
      const data = await query<{ recent: { nodes: JobSummary[] }; active: { nodes: JobSummary[] } }>(
        HOME_JOBS,
        { active: ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'] },
      );
      return { recent: data.recent.nodes, active: data.active.nodes };
    },
    live: (update) =>
      onJobUpdated({}, (job) =>
        update((current) => ({
          recent: applyJobUpdate(current.recent, job, { matches: (entry) => !entry.archived, removeUnmatched: true, limit: RECENT_LIMIT }),
          active: applyJobUpdate(current.active, job, { matches: (entry) => isActive(entry.state), removeUnmatched: true }),
        })),
      ),
  });
}

export async function fetchJob(id: number): Promise<JobDetail> {
  const data = await query<{ job: { __typename: string; data?: JobDetail; message?: string } }>(
    JOB,
    { id },
  );
  return unwrap(data.job);
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
      return onJobUpdated({ jobIds: [jobId] }, (job) => update((current) => ({ ...current, ...job })));
    },
  });
}

export async function fetchJobLog(id: number): Promise<JobLog> {
  const data = await query<{ job: { __typename: string; data?: { log: { __typename: string; data?: JobLog; message?: string } }; message?: string } }>(
    JOB_LOG,
    { id },
  );
  return unwrap(unwrap(data.job).log);
}

/** A refusal (the cluster streams as many logs as it may, or no such job) comes as the stream's one event. */
export function followJobLog(jobId: number, fromByte: number | null, onChunk: (chunk: JobLogChunk) => void, onError?: (error: Error) => void): () => void {
  return subscribe<{ jobLog: (JobLogChunk & { __typename: 'JobLogChunk' }) | { __typename: 'LogTailLimitError' | 'NotFoundError'; message: string } }>(
    JOB_LOG_LIVE,
    { jobId, fromByte },
    (data) => {
      if (data.jobLog.__typename === 'JobLogChunk') onChunk(data.jobLog);
      else onError?.(new ApiError(data.jobLog.message, 'typed', data.jobLog.__typename));
    },
    onError,
  );
}

export async function fetchJobScript(id: number): Promise<{ script: string; name: string; tag: string }> {
  const data = await query<{ job: { __typename: string; data?: { script: string; name: string; tag: string }; message?: string } }>(
    JOB_SCRIPT,
    { id },
  );
  return unwrap(data.job);
}

type JobMutation = { __typename: string; data?: JobSummary; message?: string; field?: string };

export async function cancelJob(id: number): Promise<JobSummary> {
  const data = await mutate<{ cancelJob: JobMutation }>(
    CANCEL_JOB,
    { id },
  );
  return unwrap(data.cancelJob);
}

export async function archiveJob(id: number, cleanup: boolean): Promise<JobSummary> {
  const data = await mutate<{ archiveJob: JobMutation }>(
    ARCHIVE_JOB,
    { id, cleanup },
  );
  return unwrap(data.archiveJob);
}

export async function unarchiveJob(id: number): Promise<JobSummary> {
  const data = await mutate<{ unarchiveJob: JobMutation }>(
    UNARCHIVE_JOB,
    { id },
  );
  return unwrap(data.unarchiveJob);
}

export async function refreshJob(id: number): Promise<JobSummary> {
  const data = await mutate<{ refreshJob: JobMutation }>(
    REFRESH_JOB,
    { id },
  );
  return unwrap(data.refreshJob);
}

export async function fetchLineage(projectId: number): Promise<LineageNode[]> {
  const data = await query<{ jobLineage: { __typename: string; data?: LineageNode[]; message?: string } }>(
    LINEAGE,
    { projectId },
  );
  return unwrap(data.jobLineage);
}

export type { JobInput };
