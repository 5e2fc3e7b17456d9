// The launch form's state and its translation to a JobInput. The server validates (previewScript names the
// refused field); here only what cannot even be sent is caught: a number field that holds no number, a list
// parameter that is not a list.
import { graphql, type ResultOf } from '../api/graphql';
import type { JobInputValue } from '../api/jobs';
import type { DependencyKind, JobInput } from '../api/launch';

/** What the form is generated from: the primary's groups and parameters, composed with the launch's choices. */
export const HydraConfigFields = graphql(`
  fragment HydraConfig on HydraConfig @_unmask {
    configDir primary primaries hasExperimentSuffix
    groups { path overrideKey options default listValued optional required package }
    parameters { path type default readOnly required source }
  }
`);

export type HydraConfig = ResultOf<typeof HydraConfigFields>;
export type HydraGroup = HydraConfig['groups'][number];
export type HydraParameter = HydraConfig['parameters'][number];
export type HydraValueType = HydraParameter['type'];
export type GroupChoiceInput = NonNullable<JobInput['groups']>[number];
type ParameterInput = NonNullable<JobInput['parameters']>[number];

/** One group's choice: an option ('' = off), or for a list-valued group (callbacks) its options in order. */
export type GroupValue = string | string[];

export interface LaunchForm {
  cluster: string;
  partition: string;
  gpuType: string;
  nodes: string;
  gpusPerNode: string;
  cpusPerTask: string;
  memory: string;
  timeLimit: string;
  name: string;
  description: string;
  account: string;
  qos: string;
  primary: string;
  /** Group overrideKey (a group may be used twice, under two packages) → its choice. */
  groups: Record<string, GroupValue>;
  /** Parameter path → what the user typed (a boolean for BOOL parameters). */
  parameters: Record<string, string | boolean>;
  /** Parameters and groups (overrideKeys) given explicitly: by the job this form was filled from, or by the user. */
  explicitParameters: string[];
  explicitGroups: string[];
  /** Keys the composed config does not have, added on purpose (`+path=value`). */
  added: string[];
  /** Values set by the user or the source job whose key the config composed since no longer has: said, not sent. */
  dropped: string[];
  rawOverrides: string;
  /** Hydra overrides as argv words (a sweep task's values, kept by its clone), one each, applied last. */
  overrides: string[];
  /** Parameter path → its sweep as typed (`1,2,3`, `range(0,1,0.25)`): switched to sweep, not sent as a value. */
  sweptParameters: Record<string, string>;
  /** Group overrideKey → the options the sweep runs (the group's choice stays the one the form is composed with). */
  sweptGroups: Record<string, string[]>;
  /** More sweep overrides, one a line (`model=glob(*)`, `lr=choice(0.1,0.01)`). */
  sweepOverrides: string;
  /** How many runs of a sweep may run at once; empty for the server's default, min(runs, 64). */
  throttle: string;
  /** Earlier jobs or sweeps this launch waits for. */
  dependsOn: Dependency[];
  allowUnpushed: boolean;
  parentJobId: number | null;
  /** Survive the time limit: checkpoint on USR2 and requeue (JobInput.resume), when `on`. */
  resume: ResumeForm;
}

export interface ResumeForm {
  on: boolean;
  maxRestarts: string;
  signalSeconds: string;
  override: string;
}

/** Off, with what a first use most often wants: 2 restarts, the signal 2 minutes before the limit. */
const RESUME_OFF: ResumeForm = { on: false, maxRestarts: '2', signalSeconds: '120', override: '' };

/** A job or a sweep (exactly one id) this launch waits for, and how. */
export interface Dependency {
  kind: DependencyKind;
  jobId: number | null;
  sweepId: number | null;
}

export const DEFAULT_FORM: Omit<LaunchForm, 'cluster'> = {
  partition: '',
  gpuType: '',
  nodes: '1',
  gpusPerNode: '0',
  cpusPerTask: '1',
  // Empty: no --mem or --time is written, so the partition's or the site's defaults apply (the form says which).
  memory: '',
  timeLimit: '',
  name: '',
  description: '',
  account: '',
  qos: '',
  primary: '',
  groups: {},
  parameters: {},
  explicitParameters: [],
  explicitGroups: [],
  added: [],
  dropped: [],
  rawOverrides: '',
  overrides: [],
  sweptParameters: {},
  sweptGroups: {},
  sweepOverrides: '',
  throttle: '',
  dependsOn: [],
  allowUnpushed: false,
  parentJobId: null,
  resume: RESUME_OFF,
};

/** What an input shows for a value of this type. */
export function formatParameter(value: unknown, type: HydraValueType): string | boolean {
  if (type === 'BOOL') return value === true;
  if (value === null || value === undefined) return type === 'STRING' ? '' : 'null';
  if (type === 'STRING' && typeof value === 'string') return value;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export type Parsed = { value: unknown; error?: undefined } | { value?: undefined; error: string };

/** A typed value from what the user typed, or why it cannot be one. */
export function parseParameter(text: string | boolean, type: HydraValueType): Parsed {
  if (typeof text === 'boolean') return { value: text };
  const trimmed = text.trim();
  switch (type) {
    case 'BOOL':
      if (/^(true|false)$/i.test(trimmed)) return { value: trimmed.toLowerCase() === 'true' };
      return { error: 'true or false' };
    case 'INT':
      return /^[+-]?\d+$/.test(trimmed) ? { value: Number(trimmed) } : { error: 'a whole number' };
    case 'FLOAT': {
      const value = Number(trimmed);
      return trimmed !== '' && Number.isFinite(value) ? { value } : { error: 'a number, e.g. 0.001 or 1e-3' };
    }
    case 'LIST':
    case 'DICT': {
      try {
        const value: unknown = JSON.parse(trimmed);
        const ok = type === 'LIST' ? Array.isArray(value) : typeof value === 'object' && value !== null && !Array.isArray(value);
        if (ok) return { value };
      } catch {
        // fall through to the message
      }
      return { error: type === 'LIST' ? 'a list in JSON, e.g. [1, 2]' : 'a mapping in JSON, e.g. {"key": 1}' };
    }
    case 'NULL':
      if (trimmed === '' || trimmed === 'null') return { value: null };
      try {
        return { value: JSON.parse(trimmed) as unknown };
      } catch {
        return { value: text };
      }
    default:
      return { value: text };
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** How the form reads a value the config does not type: what was typed, as Hydra reads a command line. */
const UNTYPED: HydraValueType = 'NULL';

/** A key this launch adds: typed by what is typed into it, sent with `add`. */
const addedParameter = (path: string): HydraParameter => ({ path, type: UNTYPED, default: undefined, readOnly: false, required: false, source: 'added by this launch (+)' });

/** The parameters the form shows: the composed config's, then the keys this launch adds. */
export function formParameters(hydra: HydraConfig | null, form: Pick<LaunchForm, 'added'>): HydraParameter[] {
  const known = hydra?.parameters ?? [];
  return [...known, ...form.added.filter((path) => !known.some((parameter) => parameter.path === path)).map(addedParameter)];
}

/** A `???` in the config: a value no launch may leave unset. */
const MISSING = '???';

/**
 * Several options chosen at once: the primary's defaults list gives a list (callbacks: [a], even of one option),
 * or the source job chose several.
 */
export const isListValued = (group: HydraGroup, value: GroupValue | undefined) => Array.isArray(value) || group.listValued;

/** The group's choice when the user makes none: the composed config's, nothing for a required (`???`) group. */
export function defaultGroupValue(group: HydraGroup): GroupValue {
  const chosen = group.default.filter((option) => option !== MISSING);
  return group.listValued ? chosen : (chosen[0] ?? '');
}

const isEmptyChoice = (value: GroupValue | undefined) => value === undefined || value === '' || (Array.isArray(value) && value.length === 0);

/** The source job's choice for this group: named by its overrideKey, or (older jobs) by a path used only once. */
function findChoice(choices: readonly GroupChoiceInput[], group: HydraGroup, all: readonly HydraGroup[]) {
  return choices.find((choice) => choice.group === group.overrideKey) ?? (all.filter((entry) => entry.path === group.path).length === 1 ? choices.find((choice) => choice.group === group.path) : undefined);
}

function valueOfChoice(choice: GroupChoiceInput, group: HydraGroup): GroupValue {
  if (choice.options) return [...choice.options];
  return isListValued(group, undefined) ? (choice.option ? [choice.option] : []) : (choice.option ?? '');
}

/** A choice as the server takes it: `options` for several, `option` null for a group turned off. */
function choiceInput(group: string, value: GroupValue): GroupChoiceInput {
  if (!Array.isArray(value)) return { group, option: value === '' ? null : value };
  return value.length > 0 ? { group, options: [...value] } : { group, option: null };
}

/**
 * The group choices the form stands for: those that differ from the composed config's, and those given explicitly
 * (a clone keeps its choices even where they are the default). A required group not chosen yet is not sent.
 */
export function groupChoices(form: Pick<LaunchForm, 'groups' | 'explicitGroups'>, hydra: HydraConfig | null): GroupChoiceInput[] {
  return choicesOf(form, hydra, () => false);
}

function choicesOf(form: Pick<LaunchForm, 'groups' | 'explicitGroups'>, hydra: HydraConfig | null, skip: (key: string) => boolean): GroupChoiceInput[] {
  const choices: GroupChoiceInput[] = [];
  for (const group of hydra?.groups ?? []) {
    const key = group.overrideKey;
    if (skip(key)) continue;
    const value = form.groups[key] ?? defaultGroupValue(group);
    if (group.required && isEmptyChoice(value)) continue;
    if (same(value, defaultGroupValue(group)) && !form.explicitGroups.includes(key)) continue;
    choices.push(choiceInput(key, value));
  }
  return choices;
}

const str = (value: string | null | undefined) => value ?? '';

/** A launch's settings as the form reads them: a sweep task's keep its values as argv-word overrides. */
export type SourceInput = JobInputValue & { overrides?: readonly string[] };

/**
 * The form filled from a job's input (clone or last launch), or from defaults. What the source waited for is not
 * carried over: those runs have ended, and a new launch picks its own.
 */
export function formFromInput(input: SourceInput | null, hydra: HydraConfig | null, fallbackCluster: string, options: { keepDescription: boolean }): LaunchForm {
  const form: LaunchForm = { ...DEFAULT_FORM, cluster: fallbackCluster, groups: {}, parameters: {}, sweptParameters: {}, sweptGroups: {}, dependsOn: [] };
  if (input) {
    Object.assign(form, {
      cluster: input.cluster || fallbackCluster,
      partition: str(input.partition),
      gpuType: str(input.gpuType),
      nodes: String(input.nodes),
      gpusPerNode: String(input.gpusPerNode),
      cpusPerTask: String(input.cpusPerTask),
      memory: str(input.memory),
      timeLimit: str(input.timeLimit),
      name: str(input.name),
      description: options.keepDescription ? input.description : '',
      account: str(input.account),
      qos: str(input.qos),
      primary: str(input.primary),
      rawOverrides: input.rawOverrides,
      overrides: [...(input.overrides ?? [])],
      allowUnpushed: input.allowUnpushed,
      parentJobId: input.parentJobId,
      resume: input.resume ? { on: true, maxRestarts: String(input.resume.maxRestarts), signalSeconds: String(input.resume.signalSeconds), override: str(input.resume.override) } : RESUME_OFF,
    });
  }
  return applyHydra(form, hydra, input);
}

/**
 * The group and parameter fields for a (re)composed config: the source job's values when filling from one, else
 * what the user set explicitly where the config still has it, else the config's defaults. Explicit values whose
 * key the config no longer has are dropped and listed in `dropped`, so the user sees what will not be sent.
 */
export function applyHydra(form: LaunchForm, hydra: HydraConfig | null, input: Pick<JobInputValue, 'parameters' | 'groups'> | null): LaunchForm {
  if (!hydra) return { ...form, groups: {}, parameters: {}, explicitGroups: [], explicitParameters: [], added: [], sweptParameters: {}, sweptGroups: {} };
  const dropped = [...form.dropped];
  const drop = (what: string) => {
    if (!dropped.includes(what)) dropped.push(what);
  };

  const groups: Record<string, GroupValue> = {};
  const explicitGroups: string[] = [];
  for (const group of hydra.groups) {
    const key = group.overrideKey;
    const given = input ? findChoice(input.groups, group, hydra.groups) : undefined;
    if (given) groups[key] = valueOfChoice(given, group);
    else if (form.explicitGroups.includes(key) && key in form.groups) groups[key] = form.groups[key]!;
    else {
      groups[key] = defaultGroupValue(group);
      continue;
    }
    explicitGroups.push(key);
  }
  const unplaced = [...form.explicitGroups, ...(input?.groups ?? []).filter((choice) => !hydra.groups.some((group) => findChoice([choice], group, hydra.groups))).map((choice) => choice.group)];
  for (const key of unplaced) if (!explicitGroups.includes(key)) drop(`${key} (group)`);

  const known = new Set(hydra.parameters.map((parameter) => parameter.path));
  const parameters: Record<string, string | boolean> = {};
  const explicitParameters: string[] = [];
  for (const parameter of hydra.parameters) {
    const path = parameter.path;
    const given = input?.parameters.find((entry) => entry.path === path);
    if (given) parameters[path] = formatParameter(given.value, parameter.type);
    else if (form.explicitParameters.includes(path) && path in form.parameters) parameters[path] = form.parameters[path]!;
    else {
      parameters[path] = parameter.required ? '' : formatParameter(parameter.default, parameter.type);
      continue;
    }
    explicitParameters.push(path);
  }
  // Keys added on purpose stay added; any other value for a key the config does not have cannot be sent.
  const added: string[] = [];
  for (const entry of input?.parameters ?? []) {
    if (known.has(entry.path)) continue;
    if (entry.add) {
      parameters[entry.path] = formatParameter(entry.value, typeof entry.value === 'boolean' ? 'BOOL' : UNTYPED);
      added.push(entry.path);
      explicitParameters.push(entry.path);
    } else drop(entry.path);
  }
  for (const path of form.explicitParameters) {
    if (known.has(path) || added.includes(path)) continue;
    if (form.added.includes(path)) {
      parameters[path] = form.parameters[path] ?? '';
      added.push(path);
      explicitParameters.push(path);
    } else drop(path);
  }
  // A sweep switched on for a key the config no longer has runs nothing: dropped and said, as a value would be.
  const sweptParameters: Record<string, string> = {};
  for (const [path, values] of Object.entries(form.sweptParameters)) {
    if (known.has(path) || added.includes(path)) sweptParameters[path] = values;
    else drop(path);
  }
  const sweptGroups: Record<string, string[]> = {};
  for (const [key, options] of Object.entries(form.sweptGroups)) {
    const group = hydra.groups.find((entry) => entry.overrideKey === key);
    if (group) sweptGroups[key] = options.filter((option) => group.options.includes(option));
    else drop(`${key} (group)`);
  }
  return { ...form, primary: form.primary || hydra.primary, groups, parameters, explicitGroups, explicitParameters, added, dropped, sweptParameters, sweptGroups };
}

function count(text: string, field: string, errors: Record<string, string>): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  errors[field] = 'a whole number';
  return 0;
}

const orNull = (text: string) => (text.trim() === '' ? null : text.trim());

export const REQUIRED_GROUP = 'required (??? in the config): choose an option';
export const REQUIRED_VALUE = 'required (??? in the config): set a value';

/** What the form lacks before a launch: the required groups and values not set yet, by their names. */
export function missingRequired(errors: Record<string, string>): string[] {
  return Object.entries(errors)
    .filter(([, message]) => message === REQUIRED_GROUP || message === REQUIRED_VALUE)
    .map(([field]) => field.replace(/^(groups|parameters)\./, ''));
}

/**
 * The JobInput the form stands for, and (field as the server names it → what is wrong) for the values that cannot
 * be sent at all, required ones not set among them.
 */
export function inputFromForm(form: LaunchForm, hydra: HydraConfig | null, projectId: number) {
  const errors: Record<string, string> = {};
  const parameters: ParameterInput[] = [];
  for (const group of hydra?.groups ?? []) {
    if (group.required && isEmptyChoice(form.groups[group.overrideKey])) errors[`groups.${group.overrideKey}`] = REQUIRED_GROUP;
  }
  for (const parameter of formParameters(hydra, form)) {
    // A swept parameter's values are the sweep's (sweepFromForm), one per run.
    if (parameter.readOnly || parameter.path in form.sweptParameters) continue;
    const typed = form.parameters[parameter.path];
    if (typed === undefined) continue;
    const field = `parameters.${parameter.path}`;
    if (parameter.required && (typed === '' || typed === MISSING)) {
      errors[field] = REQUIRED_VALUE;
      continue;
    }
    // A `???` says nothing about its type: what is typed is read as Hydra reads a command line.
    const parsed = parseParameter(typed, parameter.required && parameter.type === 'STRING' ? UNTYPED : parameter.type);
    if (parsed.error !== undefined) {
      errors[field] = parsed.error;
      continue;
    }
    if (form.added.includes(parameter.path) && !hydra?.parameters.some((entry) => entry.path === parameter.path)) parameters.push({ path: parameter.path, value: parsed.value, add: true });
    else if (!same(parsed.value, parameter.default) || form.explicitParameters.includes(parameter.path)) parameters.push({ path: parameter.path, value: parsed.value });
  }
  const input = {
    projectId,
    cluster: form.cluster,
    name: orNull(form.name),
    description: form.description,
    partition: orNull(form.partition),
    account: orNull(form.account),
    qos: orNull(form.qos),
    nodes: count(form.nodes, 'nodes', errors),
    gpusPerNode: count(form.gpusPerNode, 'gpusPerNode', errors),
    gpuType: orNull(form.gpuType),
    cpusPerTask: count(form.cpusPerTask, 'cpusPerTask', errors),
    memory: orNull(form.memory),
    timeLimit: orNull(form.timeLimit),
    primary: hydra ? form.primary || hydra.primary : null,
    groups: choicesOf(form, hydra, (key) => key in form.sweptGroups),
    parameters,
    rawOverrides: form.rawOverrides,
    overrides: form.overrides.map((word) => word.trim()).filter((word) => word !== ''),
    dependsOn: form.dependsOn.map((dependency) => (dependency.sweepId !== null ? { kind: dependency.kind, sweepId: dependency.sweepId } : { kind: dependency.kind, jobId: dependency.jobId })),
    parentJobId: form.parentJobId,
    resume: form.resume.on
      ? { maxRestarts: count(form.resume.maxRestarts, 'resume.maxRestarts', errors), signalSeconds: count(form.resume.signalSeconds, 'resume.signalSeconds', errors), override: orNull(form.resume.override) }
      : null,
    allowUnpushed: form.allowUnpushed,
  } satisfies JobInput;
  return { input, errors };
}

export type Translation = ReturnType<typeof inputFromForm>;

/** Why a key cannot be added as typed, or null: a dotted key that neither the config nor the form has. */
export function newKeyProblem(path: string, hydra: HydraConfig | null, form: Pick<LaunchForm, 'added'>): string | null {
  if (!/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(path)) return 'a dotted key, e.g. trainer.precision';
  if (hydra?.parameters.some((parameter) => parameter.path === path)) return `${path} is in the config already: set it above`;
  if (form.added.includes(path)) return `${path} is added already`;
  return null;
}

/** The server's message without the field name it starts with ("memory: … is not …" → "… is not …"). */
export function messageForField(message: string, field: string): string {
  const prefix = `${field}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** Which form control shows a server error about `field` (unknown fields are shown above the submit button). */
export function controlIdForField(field: string): string {
  return `field-${field.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * `next` with each entry that equals (as JSON) the `previous` entry of its key replaced by that previous object. A
 * recomposition answers new objects for unchanged parameters; lists keyed by identity would otherwise rebuild every
 * control, and an input replaced while the user types in it loses its focus and what is typed into the old one.
 */
export function keepIdentity<T>(previous: readonly T[], next: readonly T[], keyOf: (entry: T) => string): T[] {
  const known = new Map(previous.map((entry) => [keyOf(entry), entry]));
  return next.map((entry) => {
    const kept = known.get(keyOf(entry));
    return kept !== undefined && same(kept, entry) ? kept : entry;
  });
}
