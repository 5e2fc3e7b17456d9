// What can be done to a job, from its screen (buttons) or from a list row (a menu in a sheet): cancel (after a
// confirmation), clone, archive, view the script, open the log, open W&B.
import { useNavigate } from '@solidjs/router';
import { For, Show } from 'solid-js';
import { canChange, errorMessage } from '../api/client';
import { archiveJob, cancelJob, fetchJobScript, unarchiveJob, type JobSummary } from '../api/jobs';
import { createLive } from '../api/live';
import { isActive } from '../lib/job-list';
import { confirmAction, openDialog } from './dialog';
import { notify } from './toast';

type ActionId = 'cancel' | 'clone' | 'archive' | 'unarchive' | 'script' | 'logs' | 'wandb';

interface Action {
  id: ActionId;
  label: string;
  danger?: boolean;
}

/**
 * The actions of a job, in a fixed order. `keepWandb` keeps the W&B entry (disabled) before its link is known, so
 * a bar of buttons does not reflow when the log reveals the link. A read-only device (`canChange` false) gets only
 * what reads.
 */
export function jobActions(job: JobSummary, options: { includeLogs: boolean; keepWandb?: boolean; canChange?: boolean }): Action[] {
  const canChange = options.canChange ?? true;
  const actions: Action[] = [];
  if (canChange && isActive(job.state)) actions.push({ id: 'cancel', label: 'Cancel job', danger: true });
  if (canChange) actions.push({ id: 'clone', label: 'Clone' });
  if (options.includeLogs) actions.push({ id: 'logs', label: 'Logs' });
  actions.push({ id: 'script', label: 'View script' });
  if (job.wandbUrl || options.keepWandb) actions.push({ id: 'wandb', label: 'Open W&B' });
  if (canChange && !isActive(job.state)) actions.push(job.archived ? { id: 'unarchive', label: 'Unarchive' } : { id: 'archive', label: 'Archive' });
  return actions;
}

const jobTitle = (job: JobSummary) => `${job.name} #${job.id}`;

export function showScript(jobId: number): void {
  void openDialog(`Script of job ${jobId}`, (close) => {
    // A script never changes: no offline copy to keep, nothing to follow.
    const script = createLive({ key: () => `script:${jobId}`, persist: false, load: () => fetchJobScript(jobId) });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(script.value()?.script ?? '');
        notify('Script copied');
      } catch {
        notify('Copying is not allowed here: select the text instead', 'error');
      }
    };
    return (
      <div class="dialog-body">
        <h2 class="dialog-title">Script of job {jobId}</h2>
        <Show when={!script.error()} fallback={<p class="error">{script.error()?.message}</p>}>
          <Show when={script.value()} fallback={<p class="muted">Loading…</p>}>
            {(loaded) => (
              <pre class="code" tabindex="0" aria-label="sbatch script">
                {loaded().script}
              </pre>
            )}
          </Show>
        </Show>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={copy} disabled={!script.value()}>
            Copy
          </button>
          <button type="button" class="button primary" onClick={() => close()}>
            Close
          </button>
        </div>
      </div>
    );
  });
}

/** Runs one action; resolves with the updated job when the action changed it. */
export function useJobAction() {
  const navigate = useNavigate();
  return async (job: JobSummary, id: ActionId): Promise<JobSummary | undefined> => {
    try {
      switch (id) {
        case 'cancel': {
          const sure = await confirmAction({
            title: `Cancel ${jobTitle(job)}?`,
            body: `SLURM stops the job on ${job.cluster}${job.state === 'RUNNING' ? ' and its current run is lost' : ''}. This cannot be undone.`,
            confirm: 'Cancel job',
            danger: true,
          });
          if (!sure) return undefined;
          const updated = await cancelJob(job.id);
          notify(`Cancel requested for ${jobTitle(job)}`);
          return updated;
        }
        case 'clone':
          navigate(`/projects/${job.projectId}/launch?clone=${job.id}`);
          return undefined;
        case 'logs':
          navigate(`/jobs/${job.id}#log`);
          return undefined;
        case 'script':
          showScript(job.id);
          return undefined;
        case 'wandb':
          if (job.wandbUrl) window.open(job.wandbUrl, '_blank', 'noopener');
          return undefined;
        case 'archive': {
          const updated = await archiveJob(job.id, false);
          notify(`Archived ${jobTitle(job)}`);
          return updated;
        }
        case 'unarchive': {
          const updated = await unarchiveJob(job.id);
          notify(`Unarchived ${jobTitle(job)}`);
          return updated;
        }
      }
    } catch (error) {
      notify(errorMessage(error), 'error');
    }
    return undefined;
  };
}

/** The row menu: one button that opens the actions as a sheet (thumb-reachable on a phone). */
export function JobActionsMenu(props: { job: JobSummary; onChange?: (job: JobSummary) => void }) {
  const run = useJobAction();
  const open = async () => {
    const chosen = await openDialog<ActionId>(
      `Actions for ${jobTitle(props.job)}`,
      (close) => (
        <div class="dialog-body">
          <h2 class="dialog-title">{jobTitle(props.job)}</h2>
          <ul class="sheet-actions" role="list">
            <For each={jobActions(props.job, { includeLogs: true, canChange: canChange() })}>
              {(action) => (
                <li>
                  <button type="button" class="sheet-action" classList={{ danger: action.danger }} onClick={() => close(action.id)}>
                    {action.label}
                  </button>
                </li>
              )}
            </For>
            <li>
              <button type="button" class="sheet-action" onClick={() => close()}>
                Close
              </button>
            </li>
          </ul>
        </div>
      ),
      { sheet: true },
    );
    if (!chosen) return;
    const updated = await run(props.job, chosen);
    if (updated) props.onChange?.(updated);
  };
  return (
    <button type="button" class="icon-button" aria-label={`Actions for ${jobTitle(props.job)}`} aria-haspopup="dialog" onClick={open}>
      <span aria-hidden="true">⋯</span>
    </button>
  );
}

/** The job screen's action bar. */
export function JobActionButtons(props: { job: JobSummary; onChange?: (job: JobSummary) => void }) {
  const run = useJobAction();
  return (
    <div class="action-bar">
      <For each={jobActions(props.job, { includeLogs: false, keepWandb: true, canChange: canChange() })}>
        {(action) =>
          action.id === 'wandb' ? (
            <Show
              when={props.job.wandbUrl}
              fallback={
                <button type="button" class="button" disabled title="No W&B run link in the log yet">
                  {action.label}
                </button>
              }
            >
              {(url) => (
                <a class="button" href={url()} target="_blank" rel="noopener">
                  {action.label}
                </a>
              )}
            </Show>
          ) : (
            <button
              type="button"
              class="button"
              classList={{ danger: action.danger }}
              onClick={async () => {
                const updated = await run(props.job, action.id);
                if (updated) props.onChange?.(updated);
              }}
            >
              {action.label}
            </button>
          )
        }
      </For>
    </div>
  );
}
