// Projects: the local repositories jobs are launched from.
import { ProjectFlagsFields } from '../components/project-flags.fragment';
import { mutate, query, unwrap } from './client';
import { FailureFields, graphql, type ResultOf } from './graphql';
import { createLive } from './live';

const ProjectFields = graphql(
  `
  fragment Project on Project @_unmask {
    id name branch headSha headSubject dirty pushed syncedAt
    ...ProjectFlags
  }
`,
  [ProjectFlagsFields],
);

export type Project = ResultOf<typeof ProjectFields>;

const PROJECTS = graphql(`query Projects { projects { ...Project } }`, [ProjectFields]);
const PROJECT = graphql(
  `query Project($id: Int!) { project(id: $id) { __typename ... on QueryProjectSuccess { data { ...Project } } ...Failure } }`,
  [ProjectFields, FailureFields],
);
const SYNC = graphql(
  `mutation SyncProject($id: Int!) { syncProject(id: $id) { __typename ... on MutationSyncProjectSuccess { data { ...Project } } ...Failure } }`,
  [ProjectFields, FailureFields],
);

export async function fetchProjects(): Promise<Project[]> {
  return (await query(PROJECTS, {})).projects;
}

/** Projects change only when someone adds or syncs one: read on open and after every reconnect. */
export function createProjectsLive() {
  return createLive({ key: () => 'projects', load: fetchProjects });
}

export async function fetchProject(id: number): Promise<Project> {
  return unwrap((await query(PROJECT, { id })).project, 'QueryProjectSuccess');
}

export function createProjectLive(id: () => number | null) {
  return createLive({ key: () => id() !== null && `project:${id()}`, load: () => fetchProject(id()!) });
}

export async function syncProject(id: number): Promise<Project> {
  return unwrap((await mutate(SYNC, { id })).syncProject, 'MutationSyncProjectSuccess');
}
