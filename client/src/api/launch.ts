// What the launch form reads and sends: the Hydra form, the pre-fill, the exact script preview and the submit.
import { ApiError, graphql, mutate, query, unwrap } from './client';
import { JOB_INPUT_FIELDS, JOB_SUMMARY_FIELDS } from './jobs';
import type { HydraConfig, JobInput, JobSummary, JobTemplate, ScriptPreview } from './types';

const INPUT_ERRORS = '__typename ... on Error { message } ... on ValidationError { field } ... on HydraConfigError { file line }';

const HYDRA = graphql(
  `query HydraConfig($projectId: Int!, $primary: String) { hydraConfig(projectId: $projectId, primary: $primary) { __typename ... on Error { message } ... on QueryHydraConfigSuccess { data { configDir primary primaries hasExperimentSuffix groups { path options default optional package } parameters { path type default readOnly source } } } } }`,
);
const LAST_INPUT = graphql(`query LastJobInput($projectId: Int!) { lastJobInput(projectId: $projectId) { ${JOB_INPUT_FIELDS} } }`);
const TEMPLATE = graphql(
  `query JobTemplate($id: Int!) { jobTemplate(id: $id) { __typename ... on QueryJobTemplateSuccess { data { originalCommit currentCommit input { ${JOB_INPUT_FIELDS} } } } ... on Error { message } } }`,
);
const PREVIEW = graphql(
  `query PreviewScript($input: JobInput!, $tag: String) { previewScript(input: $input, tag: $tag) { ${INPUT_ERRORS} ... on QueryPreviewScriptSuccess { data { script tag warnings } } } }`,
);
const SUBMIT = graphql(
  `mutation SubmitJob($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { ${INPUT_ERRORS} ... on LaunchAlreadySubmittedError { field } ... on MutationSubmitJobSuccess { data { ${JOB_SUMMARY_FIELDS} } } } }`,
);

type Outcome<T> = { __typename: string; data?: T; message?: string; field?: string };

export async function fetchHydraConfig(projectId: number, primary: string | null): Promise<HydraConfig | null> {
  const data = await query<{ hydraConfig: Outcome<HydraConfig> }>(HYDRA, { projectId, primary });
  try {
    return unwrap(data.hydraConfig);
  } catch (error) {
    // A project without conf/ is launched without a Hydra form; other config errors are shown.
    if (error instanceof ApiError && /no Hydra config directory/i.test(error.message)) return null;
    throw error;
  }
}

export async function fetchLastJobInput(projectId: number): Promise<JobInput | null> {
  return (await query<{ lastJobInput: JobInput | null }>(LAST_INPUT, { projectId })).lastJobInput;
}

export async function fetchJobTemplate(id: number): Promise<JobTemplate> {
  return unwrap((await query<{ jobTemplate: Outcome<JobTemplate> }>(TEMPLATE, { id })).jobTemplate);
}

/** The exact script for this input, or an ApiError whose `field` names the refused value. */
export async function previewScript(input: JobInput): Promise<ScriptPreview> {
  return unwrap((await query<{ previewScript: Outcome<ScriptPreview> }>(PREVIEW, { input, tag: null })).previewScript);
}

export async function submitJob(input: JobInput, tag: string | null): Promise<JobSummary> {
  return unwrap((await mutate<{ submitJob: Outcome<JobSummary> }>(SUBMIT, { input, tag })).submitJob);
}
