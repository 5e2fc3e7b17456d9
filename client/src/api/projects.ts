// Projects: the local repositories jobs are launched from.
import { graphql, mutate, query, unwrap } from './client';
import { createLive } from './live';
import type { ProjectSummary } from './types';

const PROJECT_FIELDS = 'id name branch headSha headSubject dirty pushed syncedAt';

const PROJECTS = graphql(`query Projects { projects { ${PROJECT_FIELDS} } }`);
const PROJECT = graphql(`query Project($id: Int!) { project(id: $id) { __typename ... on QueryProjectSuccess { data { ${PROJECT_FIELDS} } } ... on Error { message } } }`);
const SYNC = graphql(`mutation SyncProject($id: Int!) { syncProject(id: $id) { __typename ... on MutationSyncProjectSuccess { data { ${PROJECT_FIELDS} } } ... on Error { message } } }`);

type Outcome<T> = { __typename: string; data?: T; message?: string };

export async function fetchProjects(): Promise<ProjectSummary[]> {
  return (await query<{ projects: ProjectSummary[] }>(PROJECTS, {})).projects;
}

/** Projects change only when someone adds or syncs one: read on open and after every reconnect. */
export function createProjectsLive() {
  return createLive<ProjectSummary[]>({ key: () => 'projects', load: fetchProjects });
}

export async function fetchProject(id: number): Promise<ProjectSummary> {
  return unwrap((await query<{ project: Outcome<ProjectSummary> }>(PROJECT, { id })).project);
}

export function createProjectLive(id: () => number | null) {
  return createLive<ProjectSummary>({ key: () => id() !== null && `project:${id()}`, load: () => fetchProject(id()!) });
}

export async function syncProject(id: number): Promise<ProjectSummary> {
  return unwrap((await mutate<{ syncProject: Outcome<ProjectSummary> }>(SYNC, { id })).syncProject);
}
