import { useNavigate, useParams } from '@solidjs/router';
import { For, Show, createMemo } from 'solid-js';
import { canChange } from '../api/client';
import { createLive } from '../api/live';
import { fetchLineage, onJobUpdated } from '../api/jobs';
import { createProjectLive } from '../api/projects';
import { DataNotice, PageHeader } from '../components/page';
import { StateBadge } from '../components/state-badge';
import { COMPARE_MIN } from '../lib/compare';
import { CompareBar, ComparePick, createCompareSelection, type CompareSelection } from '../components/compare-picker';
import { buildLineageTree, type LineageTreeNode } from '../lib/lineage';
import { jobWhen } from '../components/job-row';
import { useNow } from '../lib/clock';

/** Compare mode: a tick box per job; 2 to 6 ticked open side by side. */

function TreeItem(props: { entry: LineageTreeNode; projectId: number; selection: CompareSelection }) {
  const navigate = useNavigate();
  const now = useNow();
  const job = () => props.entry.node.job;
  return (
    <li data-lineage-job={job().id}>
      <div class="tree-node">
        <ComparePick selection={props.selection} jobId={job().id} label={`Compare #${job().id}`} />
        <a href={`/jobs/${job().id}`} class="job-link">
          <span class="job-line">
            <StateBadge state={job().state} />
            <span class="job-name">
              {job().name} <span class="job-id">#{job().id}</span>
            </span>
          </span>
          <Show when={job().description}>
            <span class="job-description">{job().description}</span>
          </Show>
          <span class="job-meta">
            {job().cluster} · {jobWhen(job(), now())}
          </span>
        </a>
        <Show when={props.entry.node.parentId !== null}>
          <Show when={props.entry.node.changes.length > 0} fallback={<p class="job-meta">Same settings as #{props.entry.node.parentId}</p>}>
            <ul class="changes" aria-label={`Changes from job #${props.entry.node.parentId}`}>
              <For each={props.entry.node.changes}>{(change) => <li>{change}</li>}</For>
            </ul>
          </Show>
        </Show>
        <Show when={canChange()}>
          <button type="button" class="button small" onClick={() => navigate(`/projects/${props.projectId}/launch?clone=${job().id}`)} aria-label={`Branch from job #${job().id}`}>
            Branch from here
          </button>
        </Show>
      </div>
      <Show when={props.entry.children.length > 0}>
        <ul>
          <For each={props.entry.children}>{(child) => <TreeItem entry={child} projectId={props.projectId} selection={props.selection} />}</For>
        </ul>
      </Show>
    </li>
  );
}

export default function Lineage() {
  const params = useParams<{ id: string }>();
  const id = () => (/^\d+$/.test(params.id) ? Number(params.id) : null);
  const project = createProjectLive(id);
  const lineage = createLive({
    key: () => id() !== null && `lineage:${id()}`,
    load: () => fetchLineage(id()!),
    live: (update) => {
      const projectId = id();
      if (projectId === null) return;
      return onJobUpdated({ projectId }, (job) =>
        update((nodes) => {
          if (!nodes.some((node) => node.job.id === job.id)) {
            // A new job: its edge's differences come from the server.
            void lineage.refetch();
            return nodes;
          }
          return nodes.map((node) => (node.job.id === job.id ? { ...node, job: { ...node.job, ...job } } : node));
        }),
      );
    },
  });
  const tree = createMemo(() => buildLineageTree(lineage.value() ?? []));
  const selection = createCompareSelection();

  return (
    <>
      <PageHeader title={`Lineage of ${project.value()?.name ?? `project ${params.id}`}`} back={{ href: `/projects/${params.id}`, label: project.value()?.name ?? 'Project' }} />
      <p class="muted">Each clone or branch sits under the job it came from, with what it changed.</p>
      <DataNotice what="the lineage" loading={lineage.loading()} hasValue={!!lineage.value()} error={lineage.error()} cachedAt={lineage.cachedAt()} onRetry={lineage.refetch} />
      <Show when={lineage.value()?.length === 0}>
        <p class="muted">No jobs yet.</p>
      </Show>
      <Show when={(lineage.value()?.length ?? 0) >= COMPARE_MIN}>
        <CompareBar selection={selection} noun="jobs" />
      </Show>
      <ul class="tree" aria-label="Job lineage">
        <For each={tree()}>{(entry) => <TreeItem entry={entry} projectId={id()!} selection={selection} />}</For>
      </ul>
    </>
  );
}
