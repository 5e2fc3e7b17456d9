// The launch form as a running thing: its values, the server's check of them (previewScript after a pause), the
// choices offered from live cluster data, and the submit. The route only renders what this returns. The
// previewed tag is submitted, so the job runs exactly the script shown.
import { createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import { createClustersLive, createGpuLive } from '../api/clusters';
import { ApiError, errorMessage } from '../api/client';
import { fetchHydraConfig, fetchJobTemplate, fetchLastJobInput, previewScript, submitJob, type JobInput, type ScriptPreview } from '../api/launch';
import { createLive } from '../api/live';
import { DEFAULT_FORM, applyHydra, controlIdForField, formFromInput, formParameters, groupChoices, inputFromForm, messageForField, missingRequired, newKeyProblem, type GroupChoiceInput, type GroupValue, type HydraConfig, type HydraParameter, type LaunchForm } from './launch-form';

interface Checked extends ScriptPreview {
  /** The input it was checked for, as JSON. */
  key: string;
}

/** Why the last submit did not launch; `jobId` names the job it concerns (refused by SLURM, or launched already). */
export interface SubmitFailure {
  message: string;
  jobId?: number;
  /** The tag had launched that job already: the job to open, not a refused one. */
  launched?: boolean;
}

/** Fields the form has a control for: a server error about any other is shown above the submit button. */
const FIXED_FIELDS = ['cluster', 'partition', 'gpuType', 'nodes', 'gpusPerNode', 'cpusPerTask', 'memory', 'timeLimit', 'name', 'description', 'account', 'qos', 'primary', 'rawOverrides', 'allowUnpushed'];

const CHECK_DELAY_MS = 300;

/**
 * What a launch sends: the previewed input pinned to the commit the preview read the work tree at, so the job runs
 * what the form was computed from, or the server refuses it (on `commit`) when HEAD has moved since.
 */
export const launchInput = (input: JobInput, preview: Pick<ScriptPreview, 'commit'>): JobInput => ({ ...input, commit: preview.commit });

/**
 * Refusals of the preview itself rather than of a value: its tag is spent, or HEAD moved since it was read. The
 * form previews again (the server's words stay shown) instead of pointing at a control.
 */
export const previewIsStale = (field: string | null) => field === 'tag' || field === 'commit';

/** The section of the keys this launch adds (`+key=value`), shown last. */
export const ADDED_SECTION = 'added by this launch';
const rank = (section: string) => (section === '' ? 0 : section === ADDED_SECTION ? 2 : 1);

const topLevel = (path: string) => (path.includes('.') ? path.slice(0, path.indexOf('.')) : '');

export function createLaunchState(options: { projectId: () => number; cloneId: () => number | null; onLaunched: (job: { id: number; name: string }) => void; onError: (message: string) => void }) {
  const clusters = createClustersLive();
  const [form, setForm] = createStore<LaunchForm>({ ...DEFAULT_FORM, cluster: '' });
  const [ready, setReady] = createSignal(false);
  const [hydra, setHydra] = createSignal<HydraConfig | null>(null);
  const [hydraLoading, setHydraLoading] = createSignal(false);
  /** Why the config could not be composed with the current choices (the form shows the last one that could). */
  const [composeError, setComposeError] = createSignal<string | null>(null);
  const gpus = createGpuLive(() => (ready() ? form.cluster : null));
  const firstCluster = () => {
    const known = clusters.value() ?? [];
    return known.find((cluster) => cluster.reachable)?.name ?? known[0]?.name ?? '';
  };

  // What the form is filled from: the job cloned, or the project's last launch, and the config for its primary.
  // Read like every screen's data; it fills the form once, so a re-read after a reconnect never undoes an edit.
  const source = createLive({
    key: () => `launch:${options.projectId()}:${options.cloneId() ?? ''}`,
    persist: false,
    load: async () => {
      const clone = options.cloneId();
      const template = clone !== null ? await fetchJobTemplate(clone) : null;
      const input = template?.input ?? (await fetchLastJobInput(options.projectId()));
      const primary = input?.primary ?? null;
      // Composed with the source job's choices, so its options' parameters are the ones shown. Choices the config
      // no longer accepts (an option since removed) still leave a form: the defaults', with the refusal shown.
      try {
        return { template, input, hydra: await fetchHydraConfig(options.projectId(), primary, input?.groups ?? []), composeError: null };
      } catch (error) {
        if (!input?.groups.length) throw error;
        return { template, input, hydra: await fetchHydraConfig(options.projectId(), primary), composeError: errorMessage(error) };
      }
    },
  });
  createEffect(() => {
    const loaded = source.value();
    if (!loaded || ready()) return;
    const clone = options.cloneId();
    const filled = formFromInput(loaded.input, loaded.hydra, firstCluster(), { keepDescription: clone !== null });
    // A fresh launch pre-filled from the last one is not a clone of it.
    if (clone === null) filled.parentJobId = null;
    setHydra(loaded.hydra);
    setComposeError(loaded.composeError);
    setForm(reconcile(filled));
    setReady(true);
  });
  const loadError = () => (!ready() && source.error() ? source.error()!.message : null);
  const template = () => source.value()?.template ?? null;

  // No cluster known when the form was filled (clusters still loading): take the first reachable one.
  createEffect(() => {
    if (ready() && !form.cluster && clusters.value()?.length) setForm('cluster', firstCluster());
  });

  // Recomposing after each choice: the newest request wins, so a slow answer never undoes a later choice.
  let composing = 0;
  const compose = async (primary: string, choices: readonly GroupChoiceInput[]): Promise<HydraConfig | null | undefined> => {
    const mine = ++composing;
    setHydraLoading(true);
    try {
      const config = await fetchHydraConfig(options.projectId(), primary, choices);
      if (mine !== composing) return undefined;
      setComposeError(null);
      return config;
    } catch (error) {
      if (mine === composing) setComposeError(errorMessage(error));
      return undefined;
    } finally {
      if (mine === composing) setHydraLoading(false);
    }
  };
  const adopt = (config: HydraConfig | null) => {
    setHydra(config);
    setForm(reconcile(applyHydra(structuredClone(unwrap(form)), config, null)));
  };

  const changePrimary = async (primary: string) => {
    setForm('primary', primary);
    const config = await compose(primary, []);
    if (config === undefined) return;
    adopt(config);
    // Choices the user made that the new primary has too: composed with them, so their parameters are shown.
    const kept = groupChoices(form, config);
    if (kept.length === 0) return;
    const recomposed = await compose(primary, kept);
    if (recomposed !== undefined) adopt(recomposed);
  };
  const setParameter = (path: string, value: string | boolean) => {
    setForm('parameters', path, value);
    if (!form.explicitParameters.includes(path)) setForm('explicitParameters', (list) => [...list, path]);
  };
  /** A new choice recomposes the config: the chosen option's parameters replace the previous one's. */
  const setGroup = async (key: string, value: GroupValue) => {
    setForm('groups', key, value);
    if (!form.explicitGroups.includes(key)) setForm('explicitGroups', (list) => [...list, key]);
    const config = await compose(form.primary || hydra()?.primary || '', groupChoices(form, hydra()));
    if (config !== undefined) adopt(config);
  };
  /** A key the composed config does not have, sent as `+path=value`; the reason when it cannot be added. */
  const addParameter = (path: string, value: string): string | null => {
    const problem = newKeyProblem(path, hydra(), form);
    if (problem) return problem;
    setForm('added', (list) => [...list, path]);
    setParameter(path, value);
    return null;
  };
  const removeParameter = (path: string) => {
    setForm('added', (list) => list.filter((entry) => entry !== path));
    setForm('explicitParameters', (list) => list.filter((entry) => entry !== path));
    setForm('parameters', path, undefined!);
  };
  const dismissDropped = () => setForm('dropped', []);

  // ---- the server's check (previewScript), a pause after the last change ----
  const translation = createMemo(() => (ready() ? inputFromForm(form, hydra(), options.projectId()) : null));
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
      setChecked(null);
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
      timer = setTimeout(() => void check(), CHECK_DELAY_MS);
    }),
  );
  onCleanup(() => clearTimeout(timer));

  const controlled = createMemo(() => {
    const fields = new Set(FIXED_FIELDS);
    for (const group of hydra()?.groups ?? []) fields.add(`groups.${group.overrideKey}`);
    for (const parameter of Object.keys(form.parameters)) fields.add(`parameters.${parameter}`);
    return fields;
  });
  /** The error shown under a field: the form's own, or the server's about it. */
  const errorFor = (field: string): string | null => {
    const local = translation()?.errors[field];
    if (local) return local;
    const server = serverError();
    return server && server.field === field ? messageForField(server.message, field) : null;
  };
  /** A server error about no field the form shows. */
  const generalError = () => {
    const server = serverError();
    return server && (!server.field || !controlled().has(server.field)) ? server.message : null;
  };
  /** The required (`???`) groups and values not set yet: the launch waits for them. */
  const missing = createMemo(() => missingRequired(translation()?.errors ?? {}));
  const checkStatus = () =>
    checking()
      ? 'Checking with the server…'
      : checked() && checked()!.key === inputKey()
        ? '✓ Checked: this exact script is what gets submitted.'
        : missing().length
          ? `Required before a launch: ${missing().join(', ')}.`
          : Object.keys(translation()?.errors ?? {}).length
          ? 'Fix the marked fields to see the script.'
          : serverError()
            ? 'The server refused a value (see the marked field).'
            : '';

  // ---- submit ----
  const [submitting, setSubmitting] = createSignal(false);
  const [submitError, setSubmitError] = createSignal<SubmitFailure | null>(null);

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
    if (localField) {
      if (missing().length) setSubmitError({ message: `Not launched: set the required ${missing().length === 1 ? 'field' : 'fields'} first (${missing().join(', ')}).` });
      return focusField(localField);
    }
    setSubmitting(true);
    try {
      clearTimeout(timer);
      const key = JSON.stringify(current.input);
      const preview = checked()?.key === key ? checked() : await check();
      if (!preview) {
        focusField(serverError()?.field);
        return;
      }
      const outcome = await submitJob(launchInput(current.input, preview), preview.tag);
      if ('launched' in outcome) {
        // This tag launched a job already (a second tap, a retried request): that job is the one to open.
        setSubmitError({ message: outcome.message, jobId: outcome.launched, launched: true });
        setRecheck((value) => value + 1);
        return;
      }
      const { job } = outcome;
      if (job.state === 'SUBMIT_FAILED') {
        setSubmitError({ message: `SLURM refused the job: ${job.submitError ?? 'no reason given'}`, jobId: job.id });
        // Its tag is spent: preview again for the next attempt.
        setRecheck((value) => value + 1);
        return;
      }
      options.onLaunched(job);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'typed') {
        setServerError({ field: error.field, message: error.message });
        if (previewIsStale(error.field)) {
          // The held preview is spent too: a tap before the new one arrives previews first instead of resending it.
          setChecked(null);
          setRecheck((value) => value + 1);
        } else focusField(error.field);
      }
      setSubmitError({ message: errorMessage(error) });
    } finally {
      setSubmitting(false);
    }
  };

  // ---- choices from live cluster data ----
  const cluster = () => clusters.value()?.find((entry) => entry.name === form.cluster);
  const clusterChoices = () => (clusters.value() ?? []).map((entry) => ({ value: entry.name, label: `${entry.name}${entry.reachable === false ? ' (unreachable)' : ''}` }));
  const gpuChoices = createMemo(() => {
    const availability = gpus.value();
    const partition = form.partition || cluster()?.partitions.find((entry) => entry.isDefault)?.name;
    const rows = availability ? (partition ? availability.byPartition.filter((row) => row.partition === partition) : availability.byType) : [];
    const choices = rows.filter((row) => row.type !== 'any').map((row) => ({ value: row.type, label: `${row.type} — ${row.free} free of ${row.total}` }));
    if (form.gpuType && !choices.some((choice) => choice.value === form.gpuType)) choices.push({ value: form.gpuType, label: `${form.gpuType} — not in this partition` });
    return [{ value: '', label: 'Any type' }, ...choices];
  });
  const partitionChoices = createMemo(() => {
    const choices = [{ value: '', label: 'Default' }, ...(cluster()?.partitions ?? []).map((partition) => ({ value: partition.name, label: `${partition.name}${partition.isDefault ? ' (default)' : ''}${partition.available ? '' : ' (down)'}` }))];
    if (form.partition && !choices.some((choice) => choice.value === form.partition)) choices.push({ value: form.partition, label: form.partition });
    return choices;
  });
  /** The parameters by their top-level key (top level first), then the keys this launch adds. */
  const parameterGroups = createMemo(() => {
    const groups = new Map<string, HydraParameter[]>();
    const config = hydra();
    for (const parameter of formParameters(config, form)) {
      const known = config?.parameters.includes(parameter) ?? false;
      const key = known ? topLevel(parameter.path) : ADDED_SECTION;
      groups.set(key, [...(groups.get(key) ?? []), parameter]);
    }
    return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b));
  });
  /** Whether a parameter group holds something to see (a value set, an error), so it opens by itself. */
  const groupHasNews = (parameters: HydraParameter[]) => parameters.some((parameter) => parameter.required || form.explicitParameters.includes(parameter.path) || errorFor(`parameters.${parameter.path}`));

  return {
    form,
    setForm,
    ready,
    loadError,
    template,
    hydra,
    hydraLoading,
    composeError,
    missing,
    gpusLive: () => gpus.value() !== undefined,
    changePrimary,
    setParameter,
    setGroup,
    addParameter,
    removeParameter,
    dismissDropped,
    checking,
    checked,
    checkStatus,
    errorFor,
    generalError,
    submitting,
    submitError,
    submit,
    clusterChoices,
    gpuChoices,
    partitionChoices,
    parameterGroups,
    groupHasNews,
  };
}

export type LaunchState = ReturnType<typeof createLaunchState>;
