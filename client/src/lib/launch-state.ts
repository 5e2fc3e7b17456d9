// The launch form as a running thing: its values, the server's check of them (previewScript after a pause), the
// choices offered from live cluster data, and the submit. The route only renders what this returns. The
// previewed tag is submitted, so the job runs exactly the script shown.
import { createEffect, createMemo, createResource, createSignal, on, onCleanup } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import { createClustersLive, createGpuLive } from '../api/clusters';
import { ApiError, errorMessage } from '../api/client';
import { fetchHydraConfig, fetchJobTemplate, fetchLastJobInput, fetchPartitionLimits, fetchRecentRuns, fetchSweepTemplate, previewScript, previewSweep, submitJob, submitSweep, type DependencyKind, type JobInput, type ScriptPreview, type SweepPreview } from '../api/launch';
import { createLive } from '../api/live';
import { DEFAULT_FORM, applyHydra, controlIdForField, formFromInput, formParameters, groupChoices, inputFromForm, keepIdentity, messageForField, missingRequired, newKeyProblem, type Dependency, type GroupChoiceInput, type GroupValue, type HydraConfig, type HydraGroup, type HydraParameter, type LaunchForm } from './launch-form';
import { memoryHint as memoryHintOf, partitionLimitsOf, preflightLine, timeHint as timeHintOf } from './launch-limits';
import { applySweepDefinition, dependencyErrors, formFieldOf, isSweepForm, sweepFromForm } from './launch-sweep';

interface Checked extends ScriptPreview {
  /** The input it was checked for, as JSON. */
  key: string;
  /** The runs, when the form is a sweep (the script is then the one every task runs). */
  sweep: SweepPreview | null;
}

/** Where the form is filled from: the project's last launch, a job (clone), or a sweep (clone of a sweep). */
export type LaunchSourceId = { kind: 'job'; id: number } | { kind: 'sweep'; id: number } | null;

/** Why the last submit did not launch; `jobId`/`sweepId` name what it concerns (refused by SLURM, or launched already). */
export interface SubmitFailure {
  message: string;
  jobId?: number;
  sweepId?: number;
  /** The tag had launched that job already: the job to open, not a refused one. */
  launched?: boolean;
}

/** Fields the form has a control for: a server error about any other is shown above the submit button. */
const FIXED_FIELDS = ['cluster', 'partition', 'gpuType', 'nodes', 'gpusPerNode', 'cpusPerTask', 'memory', 'timeLimit', 'name', 'description', 'account', 'qos', 'primary', 'rawOverrides', 'allowUnpushed', 'sweepOverrides', 'resume', 'resume.maxRestarts', 'resume.signalSeconds', 'resume.override'];
/** Fields only a sweep launch shows. */
const SWEEP_FIELDS = ['sweep', 'throttle'];

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

const runs = (count: number) => `${count} ${count === 1 ? 'run' : 'runs'}`;
export { runs as runCount };

const topLevel = (path: string) => (path.includes('.') ? path.slice(0, path.indexOf('.')) : '');

export function createLaunchState(options: {
  projectId: () => number;
  source: () => LaunchSourceId;
  onLaunched: (job: { id: number; name: string }) => void;
  onSweepLaunched: (sweep: { id: number; name: string }) => void;
  onError: (message: string) => void;
}) {
  const clusters = createClustersLive();
  const [form, setForm] = createStore<LaunchForm>({ ...DEFAULT_FORM, cluster: '' });
  const [ready, setReady] = createSignal(false);
  const [hydra, setHydra] = createSignal<HydraConfig | null>(null);
  const [hydraLoading, setHydraLoading] = createSignal(false);
  /** Why the config could not be composed with the current choices (the form shows the last one that could). */
  const [composeError, setComposeError] = createSignal<string | null>(null);
  const gpus = createGpuLive(() => (ready() ? form.cluster : null));
  // Each partition's limits and defaults (the server's cached cluster check): the hints under memory and time.
  const [partitionLimits] = createResource(() => (ready() && form.cluster ? form.cluster : null), (cluster) => fetchPartitionLimits(cluster).catch(() => null));
  const limitsHere = () => partitionLimitsOf(partitionLimits.latest, form.partition);
  const memoryHint = () => memoryHintOf(limitsHere(), Number(form.cpusPerTask));
  const timeHint = () => timeHintOf(limitsHere());
  const firstCluster = () => {
    const known = clusters.value() ?? [];
    return known.find((cluster) => cluster.reachable)?.name ?? known[0]?.name ?? '';
  };

  // What the form is filled from: the job or sweep cloned, or the project's last launch, and the config for its
  // primary. Read like every screen's data; it fills the form once, so a re-read after a reconnect never undoes an
  // edit.
  const sourceKey = () => {
    const from = options.source();
    return from ? `${from.kind}:${from.id}` : '';
  };
  const source = createLive({
    key: () => `launch:${options.projectId()}:${sourceKey()}`,
    persist: false,
    load: async () => {
      const from = options.source();
      const template = from?.kind === 'job' ? { ...(await fetchJobTemplate(from.id)), definition: null } : null;
      const sweep = from?.kind === 'sweep' ? await fetchSweepTemplate(from.id) : null;
      const input = template?.input ?? sweep?.input ?? (await fetchLastJobInput(options.projectId()));
      const cloned = template ? { originalCommit: template.originalCommit, currentCommit: template.currentCommit as string | null } : sweep ? { originalCommit: sweep.commitSha, currentCommit: null } : null;
      const primary = input?.primary ?? null;
      // Composed with the source job's choices, so its options' parameters are the ones shown. Choices the config
      // no longer accepts (an option since removed) still leave a form: the defaults', with the refusal shown.
      try {
        return { template: cloned, definition: sweep?.definition ?? null, input, hydra: await fetchHydraConfig(options.projectId(), primary, input?.groups ?? []), composeError: null };
      } catch (error) {
        if (!input?.groups.length) throw error;
        return { template: cloned, definition: sweep?.definition ?? null, input, hydra: await fetchHydraConfig(options.projectId(), primary), composeError: errorMessage(error) };
      }
    },
  });
  createEffect(() => {
    const loaded = source.value();
    if (!loaded || ready()) return;
    const from = options.source();
    let filled = formFromInput(loaded.input, loaded.hydra, firstCluster(), { keepDescription: from !== null });
    // A fresh launch pre-filled from the last one is not a clone of it, nor is a sweep's clone a clone of a job.
    if (from?.kind !== 'job') filled.parentJobId = null;
    // A sweep's clone: its swept keys switched on again, with their values.
    if (loaded.definition) filled = applySweepDefinition(filled, loaded.definition, loaded.hydra);
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

  // ---- a sweep: fields switched to sweep, its throttle ----
  /** Switches a parameter to sweep (starting from its value: the user adds the others) or back to one value. */
  const sweepParameter = (path: string, on: boolean) => {
    if (!on) return setForm('sweptParameters', path, undefined!);
    const value = form.parameters[path];
    setForm('sweptParameters', path, typeof value === 'string' ? value : '');
  };
  const setSweptParameter = (path: string, values: string) => setForm('sweptParameters', path, values);
  /** Switches a group to sweep, starting with its current choice; the form stays composed with that choice. */
  const sweepGroup = (key: string, on: boolean) => {
    if (!on) return setForm('sweptGroups', key, undefined!);
    const current = form.groups[key];
    setForm('sweptGroups', key, typeof current === 'string' && current !== '' ? [current] : []);
  };
  const setSweptGroup = (key: string, options: string[]) => setForm('sweptGroups', key, options);
  const sweeping = createMemo(() => ready() && isSweepForm(form));

  // ---- what it waits for ----
  const addDependency = (dependency: Dependency) => {
    if (form.dependsOn.some((entry) => entry.jobId === dependency.jobId && entry.sweepId === dependency.sweepId)) return;
    setForm('dependsOn', (list) => [...list, dependency]);
  };
  const setDependencyKind = (index: number, kind: DependencyKind) => setForm('dependsOn', index, 'kind', kind);
  const removeDependency = (index: number) => setForm('dependsOn', (list) => list.filter((_, at) => at !== index));
  /** The project's recent jobs and sweeps, read when the user opens "Run after…". */
  const [wantRecent, setWantRecent] = createSignal(false);
  const [recentRuns] = createResource(() => (wantRecent() ? options.projectId() : null), fetchRecentRuns);

  // ---- argv-word overrides (a sweep task's values, kept by its clone) ----
  const setOverride = (index: number, word: string) => setForm('overrides', index, word);
  const removeOverride = (index: number) => setForm('overrides', (list) => list.filter((_, at) => at !== index));

  // ---- the server's check (previewScript or previewSweep), a pause after the last change ----
  const translation = createMemo(() => {
    if (!ready()) return null;
    const single = inputFromForm(form, hydra(), options.projectId());
    const swept = sweeping() ? sweepFromForm(form, hydra()) : null;
    const errors = { ...single.errors, ...swept?.errors, ...dependencyErrors(form.dependsOn, swept !== null) };
    return { input: single.input, sweep: swept ? { sweep: swept.sweep, throttle: swept.throttle } : null, errors };
  });
  const keyOf = (current: NonNullable<ReturnType<typeof translation>>) => JSON.stringify({ input: current.input, sweep: current.sweep });
  const inputKey = createMemo(() => (translation() ? keyOf(translation()!) : null));
  /** A field the server names, as the form names it (`sweep.seed` is the seed parameter switched to sweep). */
  const fieldOf = (error: unknown) => (error instanceof ApiError ? formFieldOf(error.field, form) : null);
  const [checked, setChecked] = createSignal<Checked | null>(null);
  const [checking, setChecking] = createSignal(false);
  /** The server's refusal: `field` as the form names it, `named` as the server did (its message starts with it). */
  const [serverError, setServerError] = createSignal<{ field: string | null; named?: string | null; message: string } | null>(null);
  const [recheck, setRecheck] = createSignal(0);
  /** The last run count the server gave: shown while the next one is counted, so the number does not flicker. */
  const [lastCount, setLastCount] = createSignal<number | null>(null);
  let sequence = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const check = async (): Promise<Checked | null> => {
    const current = translation();
    if (!current) return null;
    const key = keyOf(current);
    const mine = ++sequence;
    if (Object.keys(current.errors).length > 0) {
      setChecking(false);
      setChecked(null);
      setServerError(null);
      return null;
    }
    setChecking(true);
    try {
      const sweep = current.sweep ? await previewSweep({ job: current.input, ...current.sweep }) : null;
      const preview = sweep ?? (await previewScript(current.input));
      if (mine !== sequence) return null;
      const result: Checked = { script: preview.script, tag: preview.tag, commit: preview.commit, warnings: preview.warnings, preflight: preview.preflight, key, sweep };
      if (sweep) setLastCount(sweep.count);
      setChecked(result);
      setServerError(null);
      return result;
    } catch (error) {
      if (mine !== sequence) return null;
      setChecked(null);
      setServerError({ field: fieldOf(error), named: error instanceof ApiError ? error.field : null, message: errorMessage(error) });
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
    if (sweeping()) for (const field of SWEEP_FIELDS) fields.add(field);
    form.dependsOn.forEach((_, index) => fields.add(`dependsOn.${index}`));
    form.overrides.forEach((_, index) => fields.add(`overrides.${index}`));
    return fields;
  });
  /** The error shown under a field: the form's own, or the server's about it. */
  const errorFor = (field: string): string | null => {
    const local = translation()?.errors[field];
    if (local) return local;
    const server = serverError();
    if (server) return server.field === field ? messageForField(server.message, server.named ?? field) : null;
    // SLURM's own refusal of the checked script, under the field its words name.
    const preflight = current()?.preflight;
    return preflight?.outcome === 'REFUSED' && preflight.field === field ? `SLURM refuses this: ${preflight.message}` : null;
  };
  /** SLURM's verdict on the checked script, in a line (its refusal also under its field, when it names one). */
  const preflight = () => preflightLine(current()?.preflight, Date.now());
  /** A server error about no field the form shows. */
  const generalError = () => {
    const server = serverError();
    return server && (!server.field || !controlled().has(server.field)) ? server.message : null;
  };
  /** The required (`???`) groups and values not set yet: the launch waits for them. */
  const missing = createMemo(() => missingRequired(translation()?.errors ?? {}));
  /** The current check, if it is of the form as it is now. */
  const current = () => (checked() && checked()!.key === inputKey() ? checked() : null);
  /** The runs of the sweep as it is now; while it is being counted, the last count (marked so). */
  const runCountShown = (): { count: number; counting: boolean } | null => {
    const sweep = current()?.sweep;
    if (sweep) return { count: sweep.count, counting: false };
    return checking() && lastCount() !== null ? { count: lastCount()!, counting: true } : null;
  };
  const checkStatus = () =>
    checking()
      ? 'Checking with the server…'
      : current()
        ? current()!.sweep
          ? `✓ Checked: ${runs(current()!.sweep!.count)}, each running this exact script with its own overrides.`
          : '✓ Checked: this exact script is what gets submitted.'
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
      const key = keyOf(current);
      const preview = checked()?.key === key ? checked() : await check();
      if (!preview) {
        focusField(serverError()?.field);
        return;
      }
      if (current.sweep) return await launchSweep(current.input, current.sweep, preview);
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
        setServerError({ field: fieldOf(error), named: error.field, message: error.message });
        if (previewIsStale(error.field)) {
          // The held preview is spent too: a tap before the new one arrives previews first instead of resending it.
          setChecked(null);
          setRecheck((value) => value + 1);
        } else focusField(fieldOf(error));
      }
      setSubmitError({ message: errorMessage(error) });
    } finally {
      setSubmitting(false);
    }
  };

  /** Submits the previewed sweep: one job array, then its screen. */
  const launchSweep = async (input: JobInput, sweep: { sweep: string[]; throttle: number | null }, preview: Checked) => {
    const outcome = await submitSweep({ job: launchInput(input, preview), ...sweep }, preview.tag);
    if ('launched' in outcome) {
      setSubmitError({ message: outcome.message, ...outcome.launched, launched: true });
      setRecheck((value) => value + 1);
      return;
    }
    if (outcome.refused !== null) {
      setSubmitError({ message: `SLURM refused the sweep: ${outcome.refused}`, sweepId: outcome.sweep.id });
      setRecheck((value) => value + 1);
      return;
    }
    options.onSweepLaunched(outcome.sweep);
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
  // Parameters and groups keep their objects across recompositions where unchanged, so their controls stay (see
  // keepIdentity): a value typed while a choice is being recomposed lands in the input that stays on screen.
  const stableParameters = createMemo<HydraParameter[]>((previous) => keepIdentity(previous, formParameters(hydra(), form), (parameter) => parameter.path), []);
  const groups = createMemo<HydraGroup[]>((previous) => keepIdentity(previous, hydra()?.groups ?? [], (group) => group.overrideKey), []);
  /** The parameters by their top-level key (top level first), then the keys this launch adds. */
  const parameterSections = createMemo(() => {
    const sections = new Map<string, HydraParameter[]>();
    const config = hydra();
    for (const parameter of stableParameters()) {
      const known = config?.parameters.some((entry) => entry.path === parameter.path) ?? false;
      const key = known ? topLevel(parameter.path) : ADDED_SECTION;
      sections.set(key, [...(sections.get(key) ?? []), parameter]);
    }
    return new Map([...sections.entries()].sort(([a], [b]) => rank(a) - rank(b)));
  });
  /** The sections' names, compared by value: a section's element stays while it has parameters. */
  const sectionNames = createMemo(() => [...parameterSections().keys()], [], { equals: (a, b) => a.length === b.length && a.every((name, index) => name === b[index]) });
  const sectionParameters = (name: string) => parameterSections().get(name) ?? [];
  /** Whether a parameter group holds something to see (a value set, an error), so it opens by itself. */
  const groupHasNews = (parameters: HydraParameter[]) =>
    parameters.some((parameter) => parameter.required || form.explicitParameters.includes(parameter.path) || parameter.path in form.sweptParameters || errorFor(`parameters.${parameter.path}`));

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
    preflight,
    memoryHint,
    timeHint,
    generalError,
    submitting,
    submitError,
    submit,
    clusterChoices,
    gpuChoices,
    partitionChoices,
    groups,
    sectionNames,
    sectionParameters,
    groupHasNews,
    sweeping,
    sweepParameter,
    setSweptParameter,
    sweepGroup,
    setSweptGroup,
    runCountShown,
    current,
    addDependency,
    setDependencyKind,
    removeDependency,
    recentRuns,
    loadRecentRuns: () => setWantRecent(true),
    setOverride,
    removeOverride,
  };
}

export type LaunchState = ReturnType<typeof createLaunchState>;
