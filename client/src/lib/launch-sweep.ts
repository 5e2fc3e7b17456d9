// The launch form as a sweep: parameters and groups switched to "sweep" become Hydra sweep overrides
// (`seed=1,2,3`, `model=resnet,vit`), sent as SweepInput.sweep beside the job input they are taken out of. The
// server expands and checks the runs (previewSweep); here only what cannot be sent at all is caught, and the
// server's `sweep.<key>` refusals are placed under the control that holds that key.
import type { DependencyKind } from '../api/launch';
import { formParameters, type Dependency, type HydraConfig, type LaunchForm } from './launch-form';

type SweepFields = Pick<LaunchForm, 'sweptParameters' | 'sweptGroups' | 'sweepOverrides' | 'throttle' | 'added'>;

export const EMPTY_SWEEP = 'a list (1,2,3) or a range (range(0,1,0.25))';
export const NO_OPTION = 'tick the options to sweep';
export const BAD_THROTTLE = 'a whole number of runs, at least 1';
export const AFTERCORR_NEEDS_SWEEPS = 'aftercorr pairs task i with task i of a sweep: wait for a sweep, from a sweep';

/** The free-text sweep overrides, one a line. */
const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

/** Whether the form launches a sweep: a field switched to sweep, or a sweep override typed. */
export const isSweepForm = (form: Pick<LaunchForm, 'sweptParameters' | 'sweptGroups' | 'sweepOverrides'>) =>
  Object.keys(form.sweptParameters).length > 0 || Object.keys(form.sweptGroups).length > 0 || lines(form.sweepOverrides).length > 0;

/**
 * The sweep overrides the form stands for (parameters in the form's order, then groups, then the typed ones), its
 * throttle, and (field → what is wrong) for what cannot be sent.
 */
export function sweepFromForm(form: SweepFields, hydra: HydraConfig | null): { sweep: string[]; throttle: number | null; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const sweep: string[] = [];
  const known = formParameters(hydra, form);
  const swept = Object.keys(form.sweptParameters);
  // Keys the config lost since they were switched on are left out (applyHydra says so in `dropped`).
  for (const path of [...known.map((parameter) => parameter.path).filter((path) => swept.includes(path))]) {
    const values = form.sweptParameters[path]!.trim();
    if (values === '') errors[`parameters.${path}`] = EMPTY_SWEEP;
    else sweep.push(`${form.added.includes(path) && !hydra?.parameters.some((parameter) => parameter.path === path) ? '+' : ''}${path}=${values}`);
  }
  for (const group of hydra?.groups ?? []) {
    const options = form.sweptGroups[group.overrideKey];
    if (!options) continue;
    if (options.length === 0) errors[`groups.${group.overrideKey}`] = NO_OPTION;
    // In the group's own order, as the checkboxes show them.
    else sweep.push(`${group.overrideKey}=${group.options.filter((option) => options.includes(option)).join(',')}`);
  }
  sweep.push(...lines(form.sweepOverrides));
  let throttle: number | null = null;
  const typed = form.throttle.trim();
  if (typed !== '') {
    if (/^\d+$/.test(typed) && Number(typed) >= 1) throttle = Number(typed);
    else errors.throttle = BAD_THROTTLE;
  }
  return { sweep, throttle, errors };
}

/** The key a sweep override sets, without its prefix: `+trainer.precision=16,32` → `trainer.precision`. */
const keyOf = (override: string) => override.slice(0, override.includes('=') ? override.indexOf('=') : override.length).replace(/^(\+\+|\+|~)/, '');

/**
 * The form's field for a field the server names: `sweep.<key>` (a refused sweep value) is the swept parameter or
 * group holding that key, else the typed sweep overrides; others are the form's own names already.
 */
export function formFieldOf(field: string | null, form: Pick<LaunchForm, 'sweptParameters' | 'sweptGroups'>): string | null {
  if (!field?.startsWith('sweep.')) return field;
  const key = keyOf(field.slice('sweep.'.length));
  if (key in form.sweptParameters) return `parameters.${key}`;
  if (key in form.sweptGroups) return `groups.${key}`;
  return 'sweepOverrides';
}

/**
 * A sweep's definition spread over the form: a key the config has as a parameter is that parameter switched to
 * sweep; a plain list of a group's options is that group switched to sweep; anything else (`glob(*)`, a key the
 * config lacks) stays typed, one a line.
 */
export function applySweepDefinition(form: LaunchForm, definition: readonly string[], hydra: HydraConfig | null): LaunchForm {
  const sweptParameters: Record<string, string> = {};
  const sweptGroups: Record<string, string[]> = {};
  const typed: string[] = [];
  for (const override of definition) {
    const at = override.indexOf('=');
    const key = at > 0 ? override.slice(0, at) : '';
    const values = at > 0 ? override.slice(at + 1) : '';
    const group = hydra?.groups.find((candidate) => candidate.overrideKey === key && !candidate.listValued);
    const options = values.split(',').map((value) => value.trim());
    if (group && options.every((option) => group.options.includes(option))) sweptGroups[key] = options;
    else if (hydra?.parameters.some((parameter) => parameter.path === key && !parameter.readOnly)) sweptParameters[key] = values;
    else typed.push(override);
  }
  return { ...form, sweptParameters, sweptGroups, sweepOverrides: typed.join('\n') };
}

/** The kinds a dependency may take: aftercorr only from a sweep on a sweep. */
export function dependencyKinds(dependency: Pick<Dependency, 'sweepId'>, sweep: boolean): DependencyKind[] {
  return dependency.sweepId !== null && sweep ? ['AFTEROK', 'AFTERANY', 'AFTERNOTOK', 'AFTERCORR'] : ['AFTEROK', 'AFTERANY', 'AFTERNOTOK'];
}

/** What cannot be sent among the dependencies: aftercorr where it pairs nothing. */
export function dependencyErrors(dependsOn: readonly Dependency[], sweep: boolean): Record<string, string> {
  const errors: Record<string, string> = {};
  dependsOn.forEach((dependency, index) => {
    if (dependency.kind === 'AFTERCORR' && !dependencyKinds(dependency, sweep).includes('AFTERCORR')) errors[`dependsOn.${index}`] = AFTERCORR_NEEDS_SWEEPS;
  });
  return errors;
}

export const KIND_LABELS: Record<DependencyKind, string> = {
  AFTEROK: 'after it succeeds',
  AFTERANY: 'after it ends',
  AFTERNOTOK: 'after it fails',
  AFTERCORR: 'task by task (aftercorr)',
};
