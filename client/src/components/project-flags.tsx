import { Show } from 'solid-js';
import { graphql, readFragment, type FragmentOf } from '../api/graphql';

/** The warnings a project's commit carries wherever the project is shown. */
export const ProjectFlagsFields = graphql(`
  fragment ProjectFlags on Project { dirty pushed }
`);

export function ProjectFlags(props: { project: FragmentOf<typeof ProjectFlagsFields> }) {
  const project = () => readFragment(ProjectFlagsFields, props.project);
  return (
    <>
      <Show when={project().dirty}>
        <span class="flag flag-warn">uncommitted changes</span>
      </Show>
      <Show when={!project().pushed}>
        <span class="flag flag-warn">not pushed</span>
      </Show>
    </>
  );
}
