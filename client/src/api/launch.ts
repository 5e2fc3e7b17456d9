// What the launch form reads and sends: the Hydra form, the pre-fill, the exact script preview and the submit.
import { HydraConfigFields, type GroupChoiceInput, type HydraConfig } from '../lib/launch-form';
import { failure, mutate, query, unwrap } from './client';
import { FailureFields, graphql, type ResultOf, type VariablesOf } from './graphql';
import { JobInputFields, JobSummaryFields, type JobSummary } from './jobs';

const HYDRA = graphql(
  `
  query HydraConfig($projectId: Int!, $primary: String, $groups: [GroupChoiceInput!]) {
    hydraConfig(projectId: $projectId, primary: $primary, groups: $groups) {
      __typename
      ... on QueryHydraConfigSuccess { data { ...HydraConfig } }
      ... on HydraConfigError { file line }
      ...Failure
    }
  }
`,
  [HydraConfigFields, FailureFields],
);
/**
 * A launch's settings as the form is filled from them: the job screen's fragment, and the argv-word overrides a sweep
 * task keeps its values in (a clone of a task must keep them).
 */
export const LaunchSourceFields = graphql(
  `
  fragment LaunchSource on JobInputValue @_unmask { ...JobInputValue overrides }
`,
  [JobInputFields],
);
const LAST_INPUT = graphql(`query LastJobInput($projectId: Int!) { lastJobInput(projectId: $projectId) { ...LaunchSource } }`, [LaunchSourceFields]);
const TEMPLATE = graphql(
  `
  query JobTemplate($id: Int!) {
    jobTemplate(id: $id) { __typename ... on QueryJobTemplateSuccess { data { originalCommit currentCommit input { ...LaunchSource } } } ...Failure }
  }
`,
  [LaunchSourceFields, FailureFields],
);
const SWEEP_TEMPLATE = graphql(
  `
  query SweepTemplate($id: Int!) {
    sweep(id: $id) { __typename ... on QuerySweepSuccess { data { id name projectId commitSha size definition input { ...LaunchSource } } } ...Failure }
  }
`,
  [LaunchSourceFields, FailureFields],
);
const PREVIEW_SWEEP = graphql(
  `
  query PreviewSweep($input: SweepInput!, $tag: String) {
    previewSweep(input: $input, tag: $tag) {
      __typename
      ... on QueryPreviewSweepSuccess { data { tag script commit warnings preflight { outcome estimatedStartAt nodes partition message field } count limit throttle varying keys runs { index overrides words } } }
      ...Failure
    }
  }
`,
  [FailureFields],
);
const SUBMIT_SWEEP = graphql(
  `
  mutation SubmitSweep($input: SweepInput!, $tag: String) {
    submitSweep(input: $input, tag: $tag) {
      __typename
      ... on MutationSubmitSweepSuccess { data { id name size arrayJobId counts { state count } } }
      ... on SweepAlreadySubmittedError { sweepId }
      ... on LaunchNotRecordedError { jobId }
      ...Failure
    }
  }
`,
  [FailureFields],
);
const REFUSED_TASK = graphql(`query RefusedSweepTask($sweepId: Int!) { jobs(filter: { sweepId: $sweepId }, first: 1) { nodes { id submitError } } }`);
// Literal `first`s: the server's cost limit multiplies by them, so the cost it sees is the real one.
const RECENT_RUNS = graphql(`
  query RecentRuns($projectId: Int!) {
    jobs(filter: { projectId: $projectId, archived: false }, first: 25) { nodes { id name description state cluster slurmJobId createdAt } }
    sweeps(filter: { projectId: $projectId, archived: false }, first: 25) { nodes { id name size state cluster arrayJobId createdAt } }
  }
`);
const PREVIEW = graphql(
  `
  query PreviewScript($input: JobInput!, $tag: String) {
    previewScript(input: $input, tag: $tag) { __typename ... on QueryPreviewScriptSuccess { data { script tag commit warnings preflight { outcome estimatedStartAt nodes partition message field } } } ...Failure }
  }
`,
  [FailureFields],
);
const SUBMIT = graphql(
  `
  mutation SubmitJob($input: JobInput!, $tag: String) {
    submitJob(input: $input, tag: $tag) {
      __typename
      ... on MutationSubmitJobSuccess { data { ...JobSummary } }
      ... on LaunchAlreadySubmittedError { jobId }
      ... on LaunchNotRecordedError { jobId }
      ...Failure
    }
  }
`,
  [JobSummaryFields, FailureFields],
);

export type JobInput = VariablesOf<typeof PREVIEW>['input'];
export type SweepInput = VariablesOf<typeof PREVIEW_SWEEP>['input'];
export type LaunchSource = ResultOf<typeof LaunchSourceFields>;
export type DependencyKind = NonNullable<JobInput['dependsOn']>[number]['kind'];

/** The form of this primary composed with these group choices (the config's own defaults for the others). */
export async function fetchHydraConfig(projectId: number, primary: string | null, groups: readonly GroupChoiceInput[] = []): Promise<HydraConfig | null> {
  const { hydraConfig } = await query(HYDRA, { projectId, primary, groups: [...groups] });
  // A project without a config directory is launched without a Hydra form: the one HydraConfigError that names
  // no file. Other config errors (a file, often a line) are shown.
  if (hydraConfig.__typename === 'HydraConfigError' && hydraConfig.file === '') return null;
  return unwrap(hydraConfig, 'QueryHydraConfigSuccess');
}

export async function fetchLastJobInput(projectId: number): Promise<LaunchSource | null> {
  return (await query(LAST_INPUT, { projectId })).lastJobInput;
}

export async function fetchJobTemplate(id: number) {
  return unwrap((await query(TEMPLATE, { id })).jobTemplate, 'QueryJobTemplateSuccess');
}

export type JobTemplate = Awaited<ReturnType<typeof fetchJobTemplate>>;

/** The exact script for this input, or an ApiError whose `field` names the refused value. */
export async function previewScript(input: JobInput) {
  return unwrap((await query(PREVIEW, { input, tag: null })).previewScript, 'QueryPreviewScriptSuccess');
}

export type ScriptPreview = Awaited<ReturnType<typeof previewScript>>;
export type Preflight = ScriptPreview['preflight'];

const PARTITION_LIMITS = graphql(`
  query PartitionLimits {
    clusters { name partitionLimits { name isDefault maxTimeMinutes defaultTimeMinutes maxMemoryPerNodeMb defaultMemoryPerCpuMb defaultMemoryPerNodeMb } }
  }
`);

/** What each partition of a cluster allows and gives by default (from the server's cached cluster check); null unknown. */
export async function fetchPartitionLimits(cluster: string) {
  const { clusters } = await query(PARTITION_LIMITS, {});
  return clusters.find((entry) => entry.name === cluster)?.partitionLimits ?? null;
}

export type PartitionLimits = NonNullable<Awaited<ReturnType<typeof fetchPartitionLimits>>>[number];

/**
 * The launched job, or the job this tag launched already (a second tap, a retried request; or SLURM took it
 * and saving its id failed): `{ launched }` names that job with the server's words. Other refusals throw.
 */
export async function submitJob(input: JobInput, tag: string | null): Promise<{ job: JobSummary } | { launched: number; message: string }> {
  const { submitJob: outcome } = await mutate(SUBMIT, { input, tag });
  switch (outcome.__typename) {
    case 'MutationSubmitJobSuccess':
      return { job: outcome.data };
    case 'LaunchAlreadySubmittedError':
    case 'LaunchNotRecordedError':
      return { launched: outcome.jobId, message: outcome.message };
    default:
      throw failure(outcome);
  }
}

/** A sweep as the launch form clones it: its shared settings and its sweep overrides. */
export async function fetchSweepTemplate(id: number) {
  return unwrap((await query(SWEEP_TEMPLATE, { id })).sweep, 'QuerySweepSuccess');
}

export type SweepTemplate = Awaited<ReturnType<typeof fetchSweepTemplate>>;

/** The runs of this sweep and its one script, or an ApiError whose `field` names the refused value (`sweep.seed`). */
export async function previewSweep(input: SweepInput) {
  return unwrap((await query(PREVIEW_SWEEP, { input, tag: null })).previewSweep, 'QueryPreviewSweepSuccess');
}

export type SweepPreview = Awaited<ReturnType<typeof previewSweep>>;

/**
 * The submitted sweep; `{ launched }` names the sweep or task this tag launched already (as for a job); SLURM
 * refusing the array comes back as a sweep without an array id, `refused` carrying sbatch's words.
 */
export async function submitSweep(
  input: SweepInput,
  tag: string | null,
): Promise<{ sweep: { id: number; name: string }; refused: string | null } | { launched: { sweepId: number } | { jobId: number }; message: string }> {
  const { submitSweep: outcome } = await mutate(SUBMIT_SWEEP, { input, tag });
  switch (outcome.__typename) {
    case 'MutationSubmitSweepSuccess': {
      const sweep = outcome.data;
      if (sweep.arrayJobId !== null || !sweep.counts.some((count) => count.state === 'SUBMIT_FAILED')) return { sweep, refused: null };
      const task = (await query(REFUSED_TASK, { sweepId: sweep.id })).jobs.nodes[0];
      return { sweep, refused: task?.submitError ?? 'no reason given' };
    }
    case 'SweepAlreadySubmittedError':
      return { launched: { sweepId: outcome.sweepId }, message: outcome.message };
    case 'LaunchNotRecordedError':
      return { launched: { jobId: outcome.jobId }, message: outcome.message };
    default:
      throw failure(outcome);
  }
}

/** The project's recent single jobs and sweeps, newest first: what a launch may wait for. */
export async function fetchRecentRuns(projectId: number) {
  const { jobs, sweeps } = await query(RECENT_RUNS, { projectId });
  return { jobs: jobs.nodes, sweeps: sweeps.nodes };
}

export type RecentRuns = Awaited<ReturnType<typeof fetchRecentRuns>>;
