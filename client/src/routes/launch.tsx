// Launch a job: resources, the Hydra form, and the exact script, checked by the server as the user types. The
// form's state and its check-and-submit flow live in lib/launch-state.ts; this only draws them.
import { useNavigate, useParams, useSearchParams } from '@solidjs/router';
import { For, Show } from 'solid-js';
import { canChange } from '../api/client';
import { createProjectLive } from '../api/projects';
import { createQueueWaitsLive } from '../api/usage';
import { Field } from '../components/field';
import { HydraFields } from '../components/hydra-fields';
import { PageHeader } from '../components/page';
import { Select, type Option } from '../components/select';
import { notify } from '../components/toast';
import { CloneBanner, RunAfter, SweepSummary } from '../components/sweep-fields';
import { shortSha } from '../lib/format';
import { controlIdForField } from '../lib/launch-form';
import { createLaunchState, runCount, type LaunchSourceId } from '../lib/launch-state';
import { gpuTypeLabel, waitHint, waitOption } from '../lib/usage';

export default function Launch() {
  const params = useParams<{ id: string }>();
  const [search] = useSearchParams<{ clone?: string; sweep?: string }>();
  const navigate = useNavigate();
  const projectId = () => Number(params.id);
  const idOf = (text: string | undefined) => (text && /^\d+$/.test(text) ? Number(text) : null);
  /** `?clone=<job>` clones a job, `?sweep=<sweep>` a sweep (its swept fields switched on again). */
  const source = (): LaunchSourceId => {
    const job = idOf(search.clone);
    const sweep = idOf(search.sweep);
    return job !== null ? { kind: 'job', id: job } : sweep !== null ? { kind: 'sweep', id: sweep } : null;
  };
  const project = createProjectLive(() => (Number.isInteger(projectId()) ? projectId() : null));
  const state = createLaunchState({
    projectId,
    source,
    onLaunched: (job) => {
      notify(`Launched ${job.name} #${job.id}`);
      navigate(`/jobs/${job.id}`);
    },
    onSweepLaunched: (sweep) => {
      notify(`Launched sweep ${sweep.name} #${sweep.id}`);
      navigate(`/sweeps/${sweep.id}`);
    },
    onError: (message) => notify(message, 'error'),
  });
  // The recent median queue wait beside each cluster and GPU type: where a launch would start soonest.
  const waits = createQueueWaitsLive();
  const withWaits = (options: Option[], hint: (value: string) => string | null) => options.map((option) => ({ ...option, label: [option.label, hint(option.value)].filter(Boolean).join(' · ') }));
  const clusterOptions = () => withWaits(state.clusterChoices(), (cluster) => waitOption(waits.value(), cluster));
  const gpuOptions = () => withWaits(state.gpuChoices(), (type) => (type === '' ? null : waitOption(waits.value(), state.form.cluster, type, state.form.partition)));
  // The chosen cluster's and GPU type's wait also under their fields: a phone's select shows only the start of a label.
  const clusterWait = () => {
    const hint = waitHint(waits.value(), state.form.cluster);
    return hint ? `Queue: ${hint}` : undefined;
  };
  const gpuTypeHint = () => {
    const hint = state.form.gpuType ? waitHint(waits.value(), state.form.cluster, state.form.gpuType, state.form.partition) : null;
    return [state.gpusLive() ? 'Free counts are live.' : null, hint && `Queue for ${gpuTypeLabel(state.form.gpuType)}: ${hint}`].filter(Boolean).join(' ') || undefined;
  };
  const title = () => {
    const from = source();
    if (from) return `Clone ${from.kind} #${from.id}`;
    return `Launch ${project.value()?.name ?? ''}`.trim();
  };

  return (
    <>
      <PageHeader title={title()} back={{ href: `/projects/${params.id}`, label: project.value()?.name ?? 'Project' }} />
      <Show when={state.loadError()}>
        <p class="error" role="alert">
          Could not prepare the form: {state.loadError()}
        </p>
      </Show>
      <Show when={!state.ready() && !state.loadError()}>
        <p class="muted">Preparing the form…</p>
      </Show>
      <Show when={state.ready()}>
        <form onSubmit={state.submit} novalidate aria-label="Launch a job">
          <Show when={state.template()}>
            {(template) => <CloneBanner what={`${source()!.kind} #${source()!.id}`} originalCommit={template().originalCommit} currentCommit={template().currentCommit ?? project.value()?.headSha ?? null} />}
          </Show>

          <fieldset>
            <legend>Code</legend>
            <Show when={project.value()}>
              {(value) => (
                <>
                  <p class="meta">
                    <span class="mono">
                      {value().branch ?? 'detached HEAD'} @ {shortSha(value().headSha)}
                    </span>
                    <span>{value().headSubject}</span>
                  </p>
                  <Show when={value().dirty}>
                    <p class="warning">The working tree has uncommitted changes: the job runs the last commit without them.</p>
                  </Show>
                  <Show when={!value().pushed}>
                    <p class="warning">This commit is on no remote branch, so the cluster cannot fetch it. Push it, or launch anyway if the cluster can reach this repository.</p>
                    <label class="check">
                      <input type="checkbox" id={controlIdForField('allowUnpushed')} checked={state.form.allowUnpushed} onChange={(event) => state.setForm('allowUnpushed', event.currentTarget.checked)} />
                      Launch the unpushed commit anyway
                    </label>
                    <Show when={state.errorFor('allowUnpushed')}>
                      <p class="field-error">{state.errorFor('allowUnpushed')}</p>
                    </Show>
                  </Show>
                </>
              )}
            </Show>
            <Field field="description" label={state.hydra()?.hasExperimentSuffix ? 'Description (also names the experiment)' : 'Description'} error={state.errorFor('description')} wide>
              {(attributes) => <input {...attributes} type="text" value={state.form.description} onInput={(event) => state.setForm('description', event.currentTarget.value)} />}
            </Field>
          </fieldset>

          <fieldset>
            <legend>Resources</legend>
            <div class="form-grid">
              <Field field="cluster" label="Cluster" hint={clusterWait()} error={state.errorFor('cluster')}>
                {(attributes) => (
                  <Select
                    {...attributes}
                    value={state.form.cluster}
                    options={clusterOptions()}
                    onValue={(value) => state.setForm({ cluster: value, partition: '' })}
                  />
                )}
              </Field>
              <Field field="partition" label="Partition" error={state.errorFor('partition')}>
                {(attributes) => (
                  <Select {...attributes} value={state.form.partition} options={state.partitionChoices()} onValue={(value) => state.setForm('partition', value)} />
                )}
              </Field>
              <Field field="gpuType" label="GPU type" hint={gpuTypeHint()} error={state.errorFor('gpuType')}>
                {(attributes) => (
                  <Select {...attributes} value={state.form.gpuType} options={gpuOptions()} onValue={(value) => state.setForm('gpuType', value)} />
                )}
              </Field>
              <Field field="gpusPerNode" label="GPUs per node" error={state.errorFor('gpusPerNode')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={state.form.gpusPerNode} onInput={(event) => state.setForm('gpusPerNode', event.currentTarget.value)} />}
              </Field>
              <Field field="nodes" label="Nodes" error={state.errorFor('nodes')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={state.form.nodes} onInput={(event) => state.setForm('nodes', event.currentTarget.value)} />}
              </Field>
              <Field field="cpusPerTask" label="CPUs per task" error={state.errorFor('cpusPerTask')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={state.form.cpusPerTask} onInput={(event) => state.setForm('cpusPerTask', event.currentTarget.value)} />}
              </Field>
              <Field field="memory" label="Memory per node" hint={state.memoryHint()} error={state.errorFor('memory')}>
                {(attributes) => <input {...attributes} type="text" autocapitalize="characters" placeholder="default" value={state.form.memory} onInput={(event) => state.setForm('memory', event.currentTarget.value)} />}
              </Field>
              <Field field="timeLimit" label="Time limit" hint={state.timeHint()} error={state.errorFor('timeLimit')}>
                {(attributes) => <input {...attributes} type="text" placeholder="default" value={state.form.timeLimit} onInput={(event) => state.setForm('timeLimit', event.currentTarget.value)} />}
              </Field>
            </div>
            <details class="param-group">
              <summary>Job name, account, QOS</summary>
              <div class="form-grid">
                <Field field="name" label="Job name" hint="Default: the project name" error={state.errorFor('name')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={state.form.name} onInput={(event) => state.setForm('name', event.currentTarget.value)} />}
                </Field>
                <Field field="account" label="Account" error={state.errorFor('account')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={state.form.account} onInput={(event) => state.setForm('account', event.currentTarget.value)} />}
                </Field>
                <Field field="qos" label="QOS" error={state.errorFor('qos')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={state.form.qos} onInput={(event) => state.setForm('qos', event.currentTarget.value)} />}
                </Field>
              </div>
            </details>
            <details class="param-group" open={state.form.resume.on}>
              <summary>Survive the time limit</summary>
              <label class="check">
                <input type="checkbox" checked={state.form.resume.on} onChange={(event) => state.setForm('resume', 'on', event.currentTarget.checked)} data-testid="resume-on" />
                Checkpoint and requeue itself before it runs out of time
              </label>
              <Show when={state.form.resume.on}>
                <p class="muted">
                  SLURM signals the job (USR2) before its limit; the training checkpoints and exits, and the job requeues itself, so it goes on while this server is down.
                </p>
                <div class="form-grid">
                  <Field field="resume.maxRestarts" label="Restarts at most" error={state.errorFor('resume.maxRestarts')}>
                    {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={state.form.resume.maxRestarts} onInput={(event) => state.setForm('resume', 'maxRestarts', event.currentTarget.value)} />}
                  </Field>
                  <Field field="resume.signalSeconds" label="Signal, seconds before" error={state.errorFor('resume.signalSeconds')}>
                    {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={state.form.resume.signalSeconds} onInput={(event) => state.setForm('resume', 'signalSeconds', event.currentTarget.value)} />}
                  </Field>
                </div>
                <Field field="resume.override" label="Override on a restart" hint="One Hydra override, e.g. +resume=true or ckpt_path=last" error={state.errorFor('resume.override')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={state.form.resume.override} onInput={(event) => state.setForm('resume', 'override', event.currentTarget.value)} />}
                </Field>
              </Show>
            </details>
            <RunAfter state={state} />
          </fieldset>

          <Show when={state.hydra()}>{(config) => <HydraFields state={state} config={config()} />}</Show>

          <Show when={state.sweeping()}>
            <SweepSummary state={state} />
          </Show>

          <fieldset>
            <legend>Script</legend>
            <p aria-live="polite" data-testid="check-status" class={state.checking() || state.checked() ? 'muted' : ''}>
              {state.checkStatus()}
            </p>
            <Show when={state.preflight()}>
              {(verdict) => (
                <p class={verdict().refused ? 'error' : 'ok-note'} role={verdict().refused ? 'alert' : undefined} data-testid="preflight">
                  {verdict().text}
                </p>
              )}
            </Show>
            <For each={state.checked()?.warnings ?? []}>{(warning) => <p class="warning">{warning}</p>}</For>
            <details>
              <summary>
                {state.sweeping() ? 'Script of every run' : 'Script preview'}
                <Show when={state.checked()}>
                  {(preview) => (
                    <span class="muted" data-testid="preview-commit">
                      {' '}
                      · runs commit <span class="mono">{shortSha(preview().commit)}</span>
                    </span>
                  )}
                </Show>
              </summary>
              <Show when={state.checked()} fallback={<p class="muted">No valid preview yet.</p>}>
                {(preview) => (
                  <pre class="code" tabindex="0" aria-label="Script preview" data-testid="script-preview">
                    {preview().script}
                  </pre>
                )}
              </Show>
            </details>
          </fieldset>

          <div class="submit-bar">
            <Show when={state.generalError()}>
              <p class="error" role="alert">
                {state.generalError()}
              </p>
            </Show>
            <Show when={state.submitError()}>
              {(failure) => (
                <div class="error" role="alert" data-testid="submit-error">
                  <span>{failure().message}</span>
                  <Show when={failure().jobId}>
                    <a href={`/jobs/${failure().jobId}`}>{failure().launched ? `Open job #${failure().jobId}` : 'See the refused job'}</a>
                  </Show>
                  <Show when={failure().sweepId}>
                    <a href={`/sweeps/${failure().sweepId}`}>{failure().launched ? `Open sweep #${failure().sweepId}` : 'See the refused sweep'}</a>
                  </Show>
                </div>
              )}
            </Show>
            <Show when={!canChange()}>
              <p class="error" role="alert">
                This device is paired read-only: it can preview the script but not launch. Pair it with a full token in Settings.
              </p>
            </Show>
            <button type="submit" class="button primary" disabled={state.submitting() || !canChange()}>
              {state.submitting() ? 'Launching…' : `Launch ${state.sweeping() && state.runCountShown() ? `${runCount(state.runCountShown()!.count)} ` : state.sweeping() ? 'sweep ' : ''}on ${state.form.cluster || 'cluster'}`}
            </button>
          </div>
        </form>
      </Show>
    </>
  );
}
