import { Show, type JSX } from 'solid-js';
import type { ResultOf } from '../api/graphql';
import type { JobRowFields } from './job-row.fragment';
import { useNow } from '../lib/clock';
import { ago, duration, secondsBetween } from '../lib/format';
import { pendingLine } from '../lib/pending';
import { ComparePick, type CompareSelection } from './compare-picker';
import { StateBadge } from './state-badge';

/** The one line under a job's name: where it runs and what it is doing, in words. */
export function jobWhen(job: ResultOf<typeof JobRowFields>, now: number): string {
  switch (job.state) {
    case 'PENDING':
      return pendingLine(job, now);
    case 'RUNNING':
    case 'COMPLETING':
      return `running ${duration(secondsBetween(job.startedAt, now))}${job.nodeList ? ` on ${job.nodeList}` : ''}`;
    case 'SUBMITTING':
      return 'submitting';
    case 'SUBMIT_FAILED':
      return 'SLURM refused it';
    default:
      return `ended ${ago(job.endedAt ?? job.createdAt, now)}${job.exitCode !== null && job.exitCode !== 0 ? ` · exit ${job.exitCode}` : ''}`;
  }
}

/** A job in a list; `children` is its row menu, when the list has one; `compare` gives it a tick box in compare mode. */
export function JobRow(props: { job: ResultOf<typeof JobRowFields>; showProject?: string; compare?: CompareSelection; children?: JSX.Element }) {
  const now = useNow();
  const job = () => props.job;
  return (
    <li class="job-row" data-job-id={job().id}>
      <Show when={props.compare}>{(selection) => <ComparePick selection={selection()} jobId={job().id} label={`Compare #${job().id}`} />}</Show>
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
          <Show when={props.showProject}>{(project) => <span>{project()} · </span>}</Show>
          {job().cluster} · {jobWhen(job(), now())}
          <Show when={job().archived}> · archived</Show>
        </span>
      </a>
      {props.children}
    </li>
  );
}
