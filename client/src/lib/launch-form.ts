// The launch form's state and its translation to a JobInput. The server validates (previewScript names the
// refused field); here only what cannot even be sent is caught: a number field that holds no number, a list
// parameter that is not a list.
import { graphql, type ResultOf } from '../api/graphql';
import type { JobInputValue } from '../api/jobs';
import type { JobInput } from '../api/launch';

/** What the form is generated from: the primary's groups and parameters. */
export const HydraConfigFields = graphql(`
  fragment HydraConfig on HydraConfig @_unmask {
    configDir primary primaries hasExperimentSuffix
    groups { path options default optional package }
    parameters { path type default readOnly source }
  }
`);

export type HydraConfig = ResultOf<typeof HydraConfigFields>;
export type HydraParameter = HydraConfig['parameters'][number];
export type HydraValueType = HydraParameter['type'];

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
  /** Group path → chosen option ('' = turned off). */
  groups: Record<string, string>;
  /** Parameter path → what the user typed (a boolean for BOOL parameters). */
  parameters: Record<string, string | boolean>;
  /** Parameters and groups given explicitly: by the job this form was filled from, or touched by the user. */
  explicitParameters: string[];
  explicitGroups: string[];
  rawOverrides: string;
  allowUnpushed: boolean;
  parentJobId: number | null;
}

export const DEFAULT_FORM: Omit<LaunchForm, 'cluster'> = {
  partition: '',
  gpuType: '',
  nodes: '1',
  gpusPerNode: '0',
  cpusPerTask: '1',
  memory: '4G',
  timeLimit: '1:00:00',
  name: '',
  description: '',
  account: '',
  qos: '',
  primary: '',
  groups: {},
  parameters: {},
  explicitParameters: [],
  explicitGroups: [],
  rawOverrides: '',
  allowUnpushed: false,
  parentJobId: null,
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

const valueType = (value: unknown): HydraValueType =>
  typeof value === 'boolean'
    ? 'BOOL'
    : typeof value === 'number'
      ? Number.isInteger(value)
        ? 'INT'
        : 'FLOAT'
      : Array.isArray(value)
        ? 'LIST'
        : value === null
          ? 'NULL'
          : typeof value === 'object'
            ? 'DICT'
            : 'STRING';

/**
 * The parameters the form shows: the config's, then any the source job set that the config does not list (kept,
 * so a clone launches with exactly its original's values).
 */
export function formParameters(hydra: HydraConfig | null, input: Pick<JobInputValue, 'parameters'> | null): HydraParameter[] {
  const known = hydra?.parameters ?? [];
  const extra = (input?.parameters ?? [])
    .filter((parameter) => !known.some((entry) => entry.path === parameter.path))
    .map((parameter): HydraParameter => ({ path: parameter.path, type: valueType(parameter.value), default: undefined, readOnly: false, source: 'set by the job it came from' }));
  return [...known, ...extra];
}

const str = (value: string | null | undefined) => value ?? '';

/** The form filled from a job's input (clone or last launch), or from defaults. */
export function formFromInput(input: JobInputValue | null, hydra: HydraConfig | null, fallbackCluster: string, options: { keepDescription: boolean }): LaunchForm {
  const form: LaunchForm = { ...DEFAULT_FORM, cluster: fallbackCluster, groups: {}, parameters: {} };
  if (input) {
    Object.assign(form, {
      cluster: input.cluster || fallbackCluster,
      partition: str(input.partition),
      gpuType: str(input.gpuType),
      nodes: String(input.nodes),
      gpusPerNode: String(input.gpusPerNode),
      cpusPerTask: String(input.cpusPerTask),
      memory: input.memory,
      timeLimit: input.timeLimit,
      name: str(input.name),
      description: options.keepDescription ? input.description : '',
      account: str(input.account),
      qos: str(input.qos),
      primary: str(input.primary),
      rawOverrides: input.rawOverrides,
      allowUnpushed: input.allowUnpushed,
      parentJobId: input.parentJobId,
      explicitParameters: input.parameters.map((parameter) => parameter.path),
      explicitGroups: input.groups.map((choice) => choice.group),
    });
  }
  return applyHydra(form, hydra, input);
}

/** The group and parameter fields for (another) primary's config, keeping what the user set explicitly. */
export function applyHydra(form: LaunchForm, hydra: HydraConfig | null, input: Pick<JobInputValue, 'parameters' | 'groups'> | null): LaunchForm {
  const groups: Record<string, string> = {};
  const parameters: Record<string, string | boolean> = {};
  if (hydra) {
    for (const group of hydra.groups) {
      const chosen = input?.groups.find((choice) => choice.group === group.path);
      groups[group.path] = chosen ? (chosen.option ?? '') : form.explicitGroups.includes(group.path) && group.path in form.groups ? form.groups[group.path]! : (group.default[0] ?? '');
    }
  }
  for (const parameter of formParameters(hydra, input)) {
    const given = input?.parameters.find((entry) => entry.path === parameter.path);
    parameters[parameter.path] = given
      ? formatParameter(given.value, parameter.type)
      : form.explicitParameters.includes(parameter.path) && parameter.path in form.parameters
        ? form.parameters[parameter.path]!
        : formatParameter(parameter.default, parameter.type);
  }
  return { ...form, primary: hydra ? form.primary || hydra.primary : form.primary, groups, parameters };
}


const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function count(text: string, field: string, errors: Record<string, string>): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  errors[field] = 'a whole number';
  return 0;
}

const orNull = (text: string) => (text.trim() === '' ? null : text.trim());

/**
 * The JobInput the form stands for, and (field as the server names it → what is wrong) for the values that cannot
 * be sent at all.
 */
export function inputFromForm(form: LaunchForm, hydra: HydraConfig | null, projectId: number) {
  const errors: Record<string, string> = {};
  const groups: JobInputValue['groups'] = [];
  const parameters: JobInputValue['parameters'] = [];
  if (hydra) {
    for (const group of hydra.groups) {
      const chosen = form.groups[group.path] ?? '';
      const byDefault = group.default[0] ?? '';
      if (chosen !== byDefault || form.explicitGroups.includes(group.path)) groups.push({ group: group.path, option: chosen === '' ? null : chosen });
    }
  }
  for (const parameter of formParameters(hydra, null).concat(extraFromForm(form, hydra))) {
    if (parameter.readOnly) continue;
    const typed = form.parameters[parameter.path];
    if (typed === undefined) continue;
    const parsed = parseParameter(typed, parameter.type);
    if (parsed.error !== undefined) {
      errors[`parameters.${parameter.path}`] = parsed.error;
      continue;
    }
    if (!same(parsed.value, parameter.default) || form.explicitParameters.includes(parameter.path)) parameters.push({ path: parameter.path, value: parsed.value });
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
    memory: form.memory.trim(),
    timeLimit: form.timeLimit.trim(),
    primary: hydra ? form.primary || hydra.primary : null,
    groups,
    parameters,
    rawOverrides: form.rawOverrides,
    parentJobId: form.parentJobId,
    allowUnpushed: form.allowUnpushed,
  } satisfies JobInput;
  return { input, errors };
}

export type Translation = ReturnType<typeof inputFromForm>;

/** Parameters in the form that the config does not list (carried over from the source job). */
function extraFromForm(form: LaunchForm, hydra: HydraConfig | null): HydraParameter[] {
  const known = new Set((hydra?.parameters ?? []).map((parameter) => parameter.path));
  return Object.entries(form.parameters)
    .filter(([path]) => !known.has(path))
    .map(([path, typed]): HydraParameter => {
      const guess = typeof typed === 'boolean' ? 'BOOL' : valueType(parseParameter(typed, 'NULL').value);
      return { path, type: guess, default: undefined, readOnly: false, source: '' };
    });
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
