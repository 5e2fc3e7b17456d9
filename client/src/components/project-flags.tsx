import { Show } from 'solid-js';
import { readFragment, type FragmentOf } from '../api/graphql';
import { ProjectFlagsFields } from './project-flags.fragment';

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
