import { Show } from 'solid-js';
import type { JobSummary } from '../api/types';
import { useNow } from '../lib/clock';
import { ago, duration, secondsBetween } from '../lib/format';
import { JobActionsMenu } from './job-actions';
import { StateBadge } from './state-badge';

/** The one line under a job's name: where it runs and what it is doing, in words. */
export function jobWhen(job: JobSummary, now: number): string {
  switch (job.state) {
    case 'PENDING':
      return job.reason ? `pending: ${job.reason}` : `pending ${duration(secondsBetween(job.submittedAt ?? job.createdAt, now))}`;
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

export function JobRow(props: { job: JobSummary; menu?: boolean; showProject?: string; onChange?: (job: JobSummary) => void }) {
  const now = useNow();
  return (
    <li class="job-row" data-job-id={props.job.id}>
      <a href={`/jobs/${props.job.id}`} class="job-link">
        <span class="job-line">
          <StateBadge state={props.job.state} />
          <span class="job-name">
            {props.job.name} <span class="job-id">#{props.job.id}</span>
          </span>
        </span>
        <Show when={props.job.description}>
          <span class="job-description">{props.job.description}</span>
        </Show>
        <span class="job-meta">
          <Show when={props.showProject}>{(project) => <span>{project()} · </span>}</Show>
          {props.job.cluster} · {jobWhen(props.job, now())}
          <Show when={props.job.archived}> · archived</Show>
        </span>
      </a>
      <Show when={props.menu}>
        <JobActionsMenu job={props.job} onChange={props.onChange} />
      </Show>
    </li>
  );
}
