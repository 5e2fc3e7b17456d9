// Launch a job: resources, the Hydra form, and the exact script, checked by the server as the user types
// (previewScript after a pause). The previewed tag is submitted, so the job runs exactly the script shown.
import { useNavigate, useParams, useSearchParams } from '@solidjs/router';
import { For, Show, createEffect, createMemo, createSignal, on, onCleanup, onMount, type JSX } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import { createClustersLive, createGpuLive } from '../api/clusters';
import { ApiError, canChange, errorMessage } from '../api/client';
import { fetchHydraConfig, fetchJobTemplate, fetchLastJobInput, previewScript, submitJob } from '../api/launch';
import { createProjectLive } from '../api/projects';
import type { HydraConfig, HydraParameter, JobTemplate, ScriptPreview } from '../api/types';
import { PageHeader } from '../components/page';
import { Select } from '../components/select';
import { notify } from '../components/toast';
import { shortSha } from '../lib/format';
import { DEFAULT_FORM, applyHydra, controlIdForField, formFromInput, formParameters, inputFromForm, messageForField, type LaunchForm } from '../lib/launch-form';

interface FieldProps {
  field: string;
  label: string;
  hint?: string;
  error: string | null;
  wide?: boolean;
  children: (attributes: { id: string; 'aria-invalid': 'true' | undefined; 'aria-describedby': string | undefined }) => JSX.Element;
}

/** A labelled control with its hint and its error (local, or the server's for this field) right under it. */
function Field(props: FieldProps) {
  const id = () => controlIdForField(props.field);
  const describedBy = () => [props.hint ? `${id()}-hint` : '', props.error ? `${id()}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field" classList={{ wide: props.wide }}>
      <label for={id()}>{props.label}</label>
      {props.children({ id: id(), 'aria-invalid': props.error ? 'true' : undefined, 'aria-describedby': describedBy() })}
      <Show when={props.hint}>
        <span class="field-hint" id={`${id()}-hint`}>
          {props.hint}
        </span>
      </Show>
      <Show when={props.error}>
        <p class="field-error" id={`${id()}-error`}>
          {props.error}
        </p>
      </Show>
    </div>
  );
}

interface Checked extends ScriptPreview {
  key: string;
}

const topLevel = (path: string) => (path.includes('.') ? path.slice(0, path.indexOf('.')) : '');

export default function Launch() {
  const params = useParams<{ id: string }>();
  const [search] = useSearchParams<{ clone?: string }>();
  const navigate = useNavigate();
  const projectId = () => Number(params.id);
  const cloneId = () => (search.clone && /^\d+$/.test(search.clone) ? Number(search.clone) : null);

  const project = createProjectLive(() => (Number.isInteger(projectId()) ? projectId() : null));
  const clusters = createClustersLive();
  const [form, setForm] = createStore<LaunchForm>({ ...DEFAULT_FORM, cluster: '' });
  const [ready, setReady] = createSignal(false);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  const [hydra, setHydra] = createSignal<HydraConfig | null>(null);
  const [hydraLoading, setHydraLoading] = createSignal(false);
  const [template, setTemplate] = createSignal<JobTemplate | null>(null);
  const gpus = createGpuLive(() => (ready() ? form.cluster : null));

  onMount(async () => {
    try {
      const clone = cloneId();
      const source = clone !== null ? await fetchJobTemplate(clone) : null;
      const last = clone === null ? await fetchLastJobInput(projectId()) : null;
      const input = source?.input ?? last;
      const config = await fetchHydraConfig(projectId(), input?.primary ?? null);
      const known = clusters.value() ?? [];
      const fallback = known.find((cluster) => cluster.reachable)?.name ?? known[0]?.name ?? '';
      const filled = formFromInput(input, config, fallback, { keepDescription: clone !== null });
      // A fresh launch pre-filled from the last one is not a clone of it.
      if (clone === null) filled.parentJobId = null;
      setTemplate(source);
      setHydra(config);
      setForm(reconcile(filled));
      setReady(true);
    } catch (error) {
      setLoadError(errorMessage(error));
    }
  });

  // No cluster known when the form was filled (clusters still loading): take the first reachable one.
  createEffect(() => {
    if (ready() && !form.cluster && clusters.value()?.length) setForm('cluster', clusters.value()!.find((cluster) => cluster.reachable)?.name ?? clusters.value()![0]!.name);
  });

  const changePrimary = async (primary: string) => {
    setForm('primary', primary);
    setHydraLoading(true);
    try {
      const config = await fetchHydraConfig(projectId(), primary);
      setHydra(config);
      setForm(reconcile(applyHydra({ ...unwrap(form), primary }, config, null)));
    } catch (error) {
      notify(errorMessage(error), 'error');
    } finally {
      setHydraLoading(false);
    }
  };

  const setParameter = (path: string, value: string | boolean) => {
    setForm('parameters', path, value);
    if (!form.explicitParameters.includes(path)) setForm('explicitParameters', (list) => [...list, path]);
  };
  const setGroup = (path: string, option: string) => {
    setForm('groups', path, option);
    if (!form.explicitGroups.includes(path)) setForm('explicitGroups', (list) => [...list, path]);
  };

  // ---- validation through previewScript ----
  const translation = createMemo(() => (ready() ? inputFromForm(form, hydra(), projectId()) : null));
  const inputKey = createMemo(() => (translation() ? JSON.stringify(translation()!.input) : null));
  const [checked, setChecked] = createSignal<Checked | null>(null);
  const [checking, setChecking] = createSignal(false);
  const [serverError, setServerError] = createSignal<{ field: string | null; message: string } | null>(null);
  const [recheck, setRecheck] = createSignal(0);
  let sequence = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const check = async (): Promise<Checked | null> => {
    const current = translation();
    if (!current) return null;
    const key = JSON.stringify(current.input);
    const mine = ++sequence;
    if (Object.keys(current.errors).length > 0) {
      setChecking(false);
      setServerError(null);
      return null;
    }
    setChecking(true);
    try {
      const preview = await previewScript(current.input);
      if (mine !== sequence) return null;
      const result = { ...preview, key };
      setChecked(result);
      setServerError(null);
      return result;
    } catch (error) {
      if (mine !== sequence) return null;
      setChecked(null);
      setServerError({ field: error instanceof ApiError ? error.field : null, message: errorMessage(error) });
      return null;
    } finally {
      if (mine === sequence) setChecking(false);
    }
  };

  createEffect(
    on([inputKey, recheck], ([key]) => {
      if (!key) return;
      clearTimeout(timer);
      setChecking(true);
      timer = setTimeout(() => void check(), 300);
    }),
  );
  onCleanup(() => clearTimeout(timer));

  const controlled = createMemo(() => {
    const fields = new Set(['cluster', 'partition', 'gpuType', 'nodes', 'gpusPerNode', 'cpusPerTask', 'memory', 'timeLimit', 'name', 'description', 'account', 'qos', 'primary', 'rawOverrides', 'allowUnpushed']);
    for (const group of hydra()?.groups ?? []) fields.add(`groups.${group.path}`);
    for (const parameter of Object.keys(form.parameters)) fields.add(`parameters.${parameter}`);
    return fields;
  });
  const errorFor = (field: string): string | null => {
    const local = translation()?.errors[field];
    if (local) return local;
    const server = serverError();
    return server && server.field === field ? messageForField(server.message, field) : null;
  };
  const generalError = () => {
    const server = serverError();
    return server && (!server.field || !controlled().has(server.field)) ? server.message : null;
  };

  // ---- submit ----
  const [submitting, setSubmitting] = createSignal(false);
  const [submitError, setSubmitError] = createSignal<{ message: string; jobId?: number } | null>(null);

  const focusField = (field: string | null | undefined) => {
    if (!field) return;
    const element = document.getElementById(controlIdForField(field));
    if (!element) return;
    element.closest('details')?.setAttribute('open', '');
    element.focus();
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitError(null);
    const current = translation();
    if (!current) return;
    const localField = Object.keys(current.errors)[0];
    if (localField) return focusField(localField);
    setSubmitting(true);
    try {
      clearTimeout(timer);
      const key = JSON.stringify(current.input);
      const preview = checked()?.key === key ? checked() : await check();
      if (!preview) {
        focusField(serverError()?.field);
        return;
      }
      const job = await submitJob(current.input, preview.tag);
      if (job.state === 'SUBMIT_FAILED') {
        setSubmitError({ message: `SLURM refused the job: ${job.submitError ?? 'no reason given'}`, jobId: job.id });
        // Its tag is spent: preview again for the next attempt.
        setRecheck((value) => value + 1);
        return;
      }
      notify(`Launched ${job.name} #${job.id}`);
      navigate(`/jobs/${job.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'typed') {
        setServerError({ field: error.field, message: error.message });
        if (error.field === 'tag') setRecheck((value) => value + 1);
        else focusField(error.field);
      }
      setSubmitError({ message: errorMessage(error) });
    } finally {
      setSubmitting(false);
    }
  };

  // ---- choices ----
  const cluster = () => clusters.value()?.find((entry) => entry.name === form.cluster);
  const gpuChoices = createMemo(() => {
    const availability = gpus.value();
    const partition = form.partition || cluster()?.partitions.find((entry) => entry.isDefault)?.name;
    const rows = availability ? (partition ? availability.byPartition.filter((row) => row.partition === partition) : availability.byType) : [];
    const choices = rows.filter((row) => row.type !== 'any').map((row) => ({ value: row.type, label: `${row.type} — ${row.free} free of ${row.total}` }));
    if (form.gpuType && !choices.some((choice) => choice.value === form.gpuType)) choices.push({ value: form.gpuType, label: `${form.gpuType} — not in this partition` });
    return choices;
  });
  const partitionChoices = createMemo(() => {
    const choices = [{ value: '', label: 'Default' }, ...(cluster()?.partitions ?? []).map((partition) => ({ value: partition.name, label: `${partition.name}${partition.isDefault ? ' (default)' : ''}${partition.available ? '' : ' (down)'}` }))];
    if (form.partition && !choices.some((choice) => choice.value === form.partition)) choices.push({ value: form.partition, label: form.partition });
    return choices;
  });
  const parameterGroups = createMemo(() => {
    const groups = new Map<string, HydraParameter[]>();
    for (const parameter of formParameters(hydra(), null)) {
      const key = topLevel(parameter.path);
      groups.set(key, [...(groups.get(key) ?? []), parameter]);
    }
    for (const path of Object.keys(form.parameters)) {
      if (!hydra()?.parameters.some((parameter) => parameter.path === path)) {
        const key = 'set by the original job';
        groups.set(key, [...(groups.get(key) ?? []), { path, type: typeof form.parameters[path] === 'boolean' ? 'BOOL' : 'STRING', default: undefined, readOnly: false, source: 'not in the current config' }]);
      }
    }
    return [...groups.entries()].sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : 0));
  });
  const groupHasNews = (parameters: HydraParameter[]) => parameters.some((parameter) => form.explicitParameters.includes(parameter.path) || errorFor(`parameters.${parameter.path}`));

  return (
    <>
      <PageHeader title={cloneId() !== null ? `Clone job #${cloneId()}` : `Launch ${project.value()?.name ?? ''}`.trim()} back={{ href: `/projects/${params.id}`, label: project.value()?.name ?? 'Project' }} />
      <Show when={loadError()}>
        <p class="error" role="alert">
          Could not prepare the form: {loadError()}
        </p>
      </Show>
      <Show when={!ready() && !loadError()}>
        <p class="muted">Preparing the form…</p>
      </Show>
      <Show when={ready()}>
        <form onSubmit={submit} novalidate aria-label="Launch a job">
          <Show when={template()}>
            {(source) => (
              <div class="notice clone-banner" role="note" data-testid="clone-banner">
                <strong>Clone of job #{cloneId()}</strong> with its settings.{' '}
                {source().originalCommit === source().currentCommit ? (
                  <span>
                    Same commit as the original: <span class="mono">{shortSha(source().originalCommit)}</span>.
                  </span>
                ) : (
                  <span>
                    The original ran <span class="mono">{shortSha(source().originalCommit)}</span>; this launch runs the current commit <span class="mono">{shortSha(source().currentCommit)}</span>.
                  </span>
                )}
              </div>
            )}
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
                      <input type="checkbox" id={controlIdForField('allowUnpushed')} checked={form.allowUnpushed} onChange={(event) => setForm('allowUnpushed', event.currentTarget.checked)} />
                      Launch the unpushed commit anyway
                    </label>
                    <Show when={errorFor('allowUnpushed')}>
                      <p class="field-error">{errorFor('allowUnpushed')}</p>
                    </Show>
                  </Show>
                </>
              )}
            </Show>
            <Field field="description" label={hydra()?.hasExperimentSuffix ? 'Description (also names the experiment)' : 'Description'} error={errorFor('description')} wide>
              {(attributes) => <input {...attributes} type="text" value={form.description} onInput={(event) => setForm('description', event.currentTarget.value)} />}
            </Field>
          </fieldset>

          <fieldset>
            <legend>Resources</legend>
            <div class="form-grid">
              <Field field="cluster" label="Cluster" error={errorFor('cluster')}>
                {(attributes) => (
                  <Select
                    {...attributes}
                    value={form.cluster}
                    options={(clusters.value() ?? []).map((entry) => ({ value: entry.name, label: `${entry.name}${entry.reachable === false ? ' (unreachable)' : ''}` }))}
                    onValue={(value) => setForm({ cluster: value, partition: '' })}
                  />
                )}
              </Field>
              <Field field="partition" label="Partition" error={errorFor('partition')}>
                {(attributes) => (
                  <Select {...attributes} value={form.partition} options={partitionChoices()} onValue={(value) => setForm('partition', value)} />
                )}
              </Field>
              <Field field="gpuType" label="GPU type" hint={gpus.value() ? 'Free counts are live.' : undefined} error={errorFor('gpuType')}>
                {(attributes) => (
                  <Select {...attributes} value={form.gpuType} options={[{ value: '', label: 'Any type' }, ...gpuChoices()]} onValue={(value) => setForm('gpuType', value)} />
                )}
              </Field>
              <Field field="gpusPerNode" label="GPUs per node" error={errorFor('gpusPerNode')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={form.gpusPerNode} onInput={(event) => setForm('gpusPerNode', event.currentTarget.value)} />}
              </Field>
              <Field field="nodes" label="Nodes" error={errorFor('nodes')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={form.nodes} onInput={(event) => setForm('nodes', event.currentTarget.value)} />}
              </Field>
              <Field field="cpusPerTask" label="CPUs per task" error={errorFor('cpusPerTask')}>
                {(attributes) => <input {...attributes} type="text" inputmode="numeric" value={form.cpusPerTask} onInput={(event) => setForm('cpusPerTask', event.currentTarget.value)} />}
              </Field>
              <Field field="memory" label="Memory per node" hint="e.g. 500M, 16G, 1T" error={errorFor('memory')}>
                {(attributes) => <input {...attributes} type="text" autocapitalize="characters" value={form.memory} onInput={(event) => setForm('memory', event.currentTarget.value)} />}
              </Field>
              <Field field="timeLimit" label="Time limit" hint="MM, HH:MM:SS or D-HH:MM:SS" error={errorFor('timeLimit')}>
                {(attributes) => <input {...attributes} type="text" value={form.timeLimit} onInput={(event) => setForm('timeLimit', event.currentTarget.value)} />}
              </Field>
            </div>
            <details class="param-group">
              <summary>Job name, account, QOS</summary>
              <div class="form-grid">
                <Field field="name" label="Job name" hint="Default: the project name" error={errorFor('name')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={form.name} onInput={(event) => setForm('name', event.currentTarget.value)} />}
                </Field>
                <Field field="account" label="Account" error={errorFor('account')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={form.account} onInput={(event) => setForm('account', event.currentTarget.value)} />}
                </Field>
                <Field field="qos" label="QOS" error={errorFor('qos')}>
                  {(attributes) => <input {...attributes} type="text" autocapitalize="off" value={form.qos} onInput={(event) => setForm('qos', event.currentTarget.value)} />}
                </Field>
              </div>
            </details>
          </fieldset>

          <Show when={hydra()}>
            {(config) => (
              <fieldset aria-busy={hydraLoading()}>
                <legend>Hydra config</legend>
                <div class="form-grid">
                  <Field field="primary" label="Primary config" error={errorFor('primary')}>
                    {(attributes) => (
                      <Select {...attributes} value={form.primary || config().primary} options={config().primaries.map((primary) => ({ value: primary, label: primary }))} onValue={(value) => void changePrimary(value)} />
                    )}
                  </Field>
                  <For each={config().groups}>
                    {(group) => (
                      <Field field={`groups.${group.path}`} label={group.path} hint={group.package ? `package @${group.package}` : undefined} error={errorFor(`groups.${group.path}`)}>
                        {(attributes) => (
                          <Select
                            {...attributes}
                            value={form.groups[group.path] ?? ''}
                            options={[...(group.optional || group.default.length === 0 ? [{ value: '', label: '(none)' }] : []), ...group.options.map((option) => ({ value: option, label: option }))]}
                            onValue={(value) => setGroup(group.path, value)}
                          />
                        )}
                      </Field>
                    )}
                  </For>
                </div>
                <h2 class="section-title">Parameters</h2>
                <For each={parameterGroups()}>
                  {([name, parameters]) => (
                    <details class="param-group" open={name === '' || groupHasNews(parameters)}>
                      <summary>
                        {name || 'top level'} <span class="param-source">&nbsp;({parameters.length})</span>
                      </summary>
                      <div class="form-grid">
                        <For each={parameters}>
                          {(parameter) => (
                            <Field
                              field={`parameters.${parameter.path}`}
                              label={parameter.path}
                              hint={`${parameter.type.toLowerCase()}${parameter.readOnly ? ', computed by the config' : ''}${parameter.source ? ` · ${parameter.source}` : ''}`}
                              error={errorFor(`parameters.${parameter.path}`)}
                            >
                              {(attributes) =>
                                parameter.type === 'BOOL' ? (
                                  <Select
                                    {...attributes}
                                    value={String(form.parameters[parameter.path] === true)}
                                    disabled={parameter.readOnly}
                                    options={[
                                      { value: 'true', label: 'true' },
                                      { value: 'false', label: 'false' },
                                    ]}
                                    onValue={(value) => setParameter(parameter.path, value === 'true')}
                                  />
                                ) : (
                                  <input
                                    {...attributes}
                                    type="text"
                                    inputmode={parameter.type === 'INT' ? 'numeric' : parameter.type === 'FLOAT' ? 'decimal' : undefined}
                                    autocapitalize="off"
                                    spellcheck={false}
                                    value={String(form.parameters[parameter.path] ?? '')}
                                    disabled={parameter.readOnly}
                                    onInput={(event) => setParameter(parameter.path, event.currentTarget.value)}
                                  />
                                )
                              }
                            </Field>
                          )}
                        </For>
                      </div>
                    </details>
                  )}
                </For>
                <Field field="rawOverrides" label="Extra overrides" hint="Hydra syntax, applied last: e.g. +trainer.precision=16 seed=1" error={errorFor('rawOverrides')} wide>
                  {(attributes) => <textarea {...attributes} rows="2" autocapitalize="off" spellcheck={false} value={form.rawOverrides} onInput={(event) => setForm('rawOverrides', event.currentTarget.value)} />}
                </Field>
              </fieldset>
            )}
          </Show>

          <fieldset>
            <legend>Script</legend>
            <p aria-live="polite" data-testid="check-status" class={checking() ? 'muted' : checked() ? 'muted' : ''}>
              {checking() ? 'Checking with the server…' : checked() ? '✓ Checked: this exact script is what gets submitted.' : Object.keys(translation()?.errors ?? {}).length ? 'Fix the marked fields to see the script.' : serverError() ? 'The server refused a value (see the marked field).' : ''}
            </p>
            <For each={checked()?.warnings ?? []}>{(warning) => <p class="warning">{warning}</p>}</For>
            <details>
              <summary>Script preview</summary>
              <Show when={checked()} fallback={<p class="muted">No valid preview yet.</p>}>
                {(preview) => (
                  <pre class="code" tabindex="0" aria-label="Script preview" data-testid="script-preview">
                    {preview().script}
                  </pre>
                )}
              </Show>
            </details>
          </fieldset>

          <div class="submit-bar">
            <Show when={generalError()}>
              <p class="error" role="alert">
                {generalError()}
              </p>
            </Show>
            <Show when={submitError()}>
              {(failure) => (
                <div class="error" role="alert" data-testid="submit-error">
                  <span>{failure().message}</span>
                  <Show when={failure().jobId}>
                    <a href={`/jobs/${failure().jobId}`}>See the refused job</a>
                  </Show>
                </div>
              )}
            </Show>
            <Show when={!canChange()}>
              <p class="error" role="alert">
                This device is paired read-only: it can preview the script but not launch. Pair it with a full token in Settings.
              </p>
            </Show>
            <button type="submit" class="button primary" disabled={submitting() || !canChange()}>
              {submitting() ? 'Launching…' : `Launch on ${form.cluster || 'cluster'}`}
            </button>
          </div>
        </form>
      </Show>
    </>
  );
}
