// What the launch form reads and sends: the Hydra form, the pre-fill, the exact script preview and the submit.
import { HydraConfigFields, type GroupChoiceInput, type HydraConfig } from '../lib/launch-form';
import { failure, mutate, query, unwrap } from './client';
import { FailureFields, graphql, type VariablesOf } from './graphql';
import { JobInputFields, JobSummaryFields, type JobInputValue, type JobSummary } from './jobs';

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
const LAST_INPUT = graphql(`query LastJobInput($projectId: Int!) { lastJobInput(projectId: $projectId) { ...JobInputValue } }`, [JobInputFields]);
const TEMPLATE = graphql(
  `
  query JobTemplate($id: Int!) {
    jobTemplate(id: $id) { __typename ... on QueryJobTemplateSuccess { data { originalCommit currentCommit input { ...JobInputValue } } } ...Failure }
  }
`,
  [JobInputFields, FailureFields],
);
const PREVIEW = graphql(
  `
  query PreviewScript($input: JobInput!, $tag: String) {
    previewScript(input: $input, tag: $tag) { __typename ... on QueryPreviewScriptSuccess { data { script tag commit warnings } } ...Failure }
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

/** The form of this primary composed with these group choices (the config's own defaults for the others). */
export async function fetchHydraConfig(projectId: number, primary: string | null, groups: readonly GroupChoiceInput[] = []): Promise<HydraConfig | null> {
  const { hydraConfig } = await query(HYDRA, { projectId, primary, groups: [...groups] });
  // A project without a config directory is launched without a Hydra form: the one HydraConfigError that names
  // no file. Other config errors (a file, often a line) are shown.
  if (hydraConfig.__typename === 'HydraConfigError' && hydraConfig.file === '') return null;
  return unwrap(hydraConfig, 'QueryHydraConfigSuccess');
}

export async function fetchLastJobInput(projectId: number): Promise<JobInputValue | null> {
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
