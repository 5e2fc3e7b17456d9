// What a launch is made of, as the form (or a notebook) sends it, and its validation into sbatch resources and
// Hydra override tokens. Every rejected value is a ValidationError naming its field.
import { ValidationError } from '../errors.js';
import { HYDRA_CONFIG_DIRS, type HydraChoice, type HydraConfig } from '../projects/hydra/config.js';
import { OverrideParseError, UnspellableValueError, formatOverride, hydraValue, isSweepOverride, parseOverride, parseOverrides, type Override } from '../projects/hydra/overrides.js';
import type { ProjectSettings } from '../projects/settings.js';
import type { Resources, Resume } from '../slurm/script.js';
import { count, freeText, memory, slurmName, timeLimit } from '../slurm/values.js';

export type GroupChoice = HydraChoice;

export interface ParameterValue {
  path: string;
  value: unknown;
  /** `+path=value`: add a key the composed config does not have (otherwise refused as a likely typo). */
  add?: boolean;
}

/** SLURM's dependency types a launch may wait with: aftercorr only between two sweeps of the same size (task i after task i). */
export const DEPENDENCY_KINDS = ['afterok', 'afterany', 'afternotok', 'aftercorr'] as const;
export type DependencyKind = (typeof DEPENDENCY_KINDS)[number];

/** Wait for one job, or for a whole sweep (every task; task by task for aftercorr). */
export interface Dependency {
  kind: DependencyKind;
  jobId: number | null;
  sweepId: number | null;
}

/** The resources as the user asked for them (validated into Resources), plus what the launch is about. */
export interface JobInput extends Omit<Resources, 'jobName'> {
  projectId: number;
  cluster: string;
  name: string | null;
  description: string;
  /** Hydra primary config; null for a project without a Hydra config directory. */
  primary: string | null;
  groups: GroupChoice[];
  parameters: ParameterValue[];
  /** Overrides as the user typed them; parsed with Hydra's grammar, never pasted into the script. */
  rawOverrides: string;
  /** Hydra overrides as argv words, one override each, applied after rawOverrides: a sweep's run gets its values so. */
  overrides?: string[];
  parentJobId: number | null;
  /** Earlier jobs or sweeps this launch waits for (SLURM's --dependency). */
  dependsOn?: Dependency[];
  /** Launch a commit that no remote branch contains (only works when the cluster can reach this repository). */
  allowUnpushed: boolean;
  /** Survive the time limit: checkpoint on a signal and requeue itself (the job script does it); null for none. */
  resume?: ResumeInput | null;
}

/** Resume as asked: signalSeconds defaults to RESUME_SIGNAL_SECONDS, override to none. */
export interface ResumeInput {
  maxRestarts: number;
  signalSeconds?: number | null;
  /** One Hydra override added to the command on each restart, e.g. `+resume=true` or `ckpt_path=last`. */
  override?: string | null;
}

/** How long before the time limit SLURM signals a job that resumes: time to write a checkpoint and requeue. */
export const RESUME_SIGNAL_SECONDS = 120;

/** Left out: null or empty (whitespace is a value, refused by the field's own check, not taken for nothing). */
const unset = (value: string | null | undefined) => value === null || value === undefined || value === '';
const optionalName = (field: string, value: string | null) => (unset(value) ? null : slurmName(field, value));

/** A job name SLURM and file systems accept, from free text. */
export function slug(text: string, maxLength = 60): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._+-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/, '');
}

export function validateResources(input: JobInput, defaultName: string): Resources {
  return {
    jobName: slurmName('name', input.name === null || input.name === '' ? slug(defaultName) || 'job' : input.name),
    partition: optionalName('partition', input.partition),
    account: optionalName('account', input.account),
    qos: optionalName('qos', input.qos),
    nodes: count('nodes', input.nodes, 1, 1024),
    gpusPerNode: count('gpusPerNode', input.gpusPerNode, 0, 64),
    gpuType: optionalName('gpuType', input.gpuType),
    cpusPerTask: count('cpusPerTask', input.cpusPerTask, 1, 1024),
    memory: unset(input.memory) ? null : memory('memory', input.memory).text,
    timeLimit: unset(input.timeLimit) ? null : timeLimit('timeLimit', input.timeLimit).text,
  };
}

/**
 * The resume option as the job script gets it. The signal must come before the time limit (SLURM would send it at
 * once otherwise); the override is one override in Hydra's grammar, written back as Hydra reads it.
 */
export function validateResume(input: JobInput): Resume | null {
  const resume = input.resume;
  if (resume === null || resume === undefined) return null;
  const maxRestarts = count('resume.maxRestarts', resume.maxRestarts, 1, 20);
  const signalSeconds = count('resume.signalSeconds', resume.signalSeconds ?? RESUME_SIGNAL_SECONDS, 30, 3600);
  if (!unset(input.timeLimit)) {
    const limit = timeLimit('timeLimit', input.timeLimit);
    if (signalSeconds >= limit.minutes * 60) {
      throw new ValidationError('resume.signalSeconds', `${signalSeconds} s is not before the time limit (${limit.text} = ${limit.minutes * 60} s): the job would be signalled as it starts`);
    }
  }
  if (unset(resume.override)) return { maxRestarts, signalSeconds, override: null };
  const override = parseField('resume.override', resume.override!, true)[0]!.override;
  if (isSweepOverride(override)) throw new ValidationError('resume.override', `${formatOverride(override)} is a sweep (several values); a restart takes one value`);
  return { maxRestarts, signalSeconds, override: formatOverride(override) };
}

export function validateDescription(input: JobInput): string {
  return freeText('description', input.description, 2000);
}

/** A form value as Hydra value text; a value it cannot spell (a newline, a NUL, an empty mapping key) names the field. */
function valueText(field: string, value: unknown): string {
  try {
    return hydraValue(value);
  } catch (error) {
    if (error instanceof UnspellableValueError) throw new ValidationError(field, error.message);
    throw error;
  }
}

/** Overrides as Hydra parses them, each with the field it came from; a refusal names the field. */
function parseField(field: string, text: string, single = false): { field: string; override: Override }[] {
  try {
    return (single ? [parseOverride(text)] : parseOverrides(text)).map((override) => ({ field, override }));
  } catch (error) {
    if (error instanceof OverrideParseError) throw new ValidationError(field, error.message);
    throw error;
  }
}

const formatted = (entries: { override: Override }[]) => entries.map(({ override }) => formatOverride(override));

/**
 * The Hydra arguments of a launch, in the order Hydra applies them: the project's default overrides, the form's
 * group choices and parameter values, the description as experiment_suffix, then the user's raw overrides (last,
 * so what was typed wins). `configDir` is the project's Hydra config directory when no primary was given (`hydra` null).
 */
export function buildHydraArgs(input: JobInput, hydra: HydraConfig | null, settings: ProjectSettings, description: string, configDir: string | null = null): string[] {
  // What the settings and the user typed, each parsed once. Each entry of default_overrides is one token, as the
  // settings file was validated.
  const defaults = settings.default_overrides.flatMap((token, index) => parseField(`.mlops-config.yaml: default_overrides.${index}`, token, true));
  const raw = [...parseField('rawOverrides', input.rawOverrides), ...(input.overrides ?? []).flatMap((token, index) => parseField(`overrides.${index}`, token, true))];
  const tokens = formatted(defaults);
  if (hydra) {
    // The group choices were composed by readHydraConfig, which wrote them as Hydra applies them (`+` to append a
    // group the defaults lists do not pick, `~` to turn one off).
    for (const { group, override } of hydra.groupOverrides) tokens.push(...formatted(parseField(`groups.${group}`, override, true)));
    const typed = [...defaults, ...raw].filter(({ override }) => override.key !== 'hydra' && !override.key.startsWith('hydra.'));
    for (const { field, override } of typed) {
      if (isSweepOverride(override)) throw new ValidationError(field, `${formatOverride(override)} is a sweep (several values), which one run cannot take: launch a sweep instead`);
    }
    const typedKey = (override: Override) => (override.package === null ? override.key : `${override.key}@${override.package}`);
    const namesGroup = (override: Override) => hydra.groups.some((group) => [group.path, group.overrideKey].includes(typedKey(override)));
    const inConfig = (path: string) => hydra.parameters.some((parameter) => parameter.path === path || parameter.path.startsWith(`${path}.`));
    // Hydra refuses, only once the job runs, to set or delete a key the composed config lacks and to add one it has.
    // Typed group changes make the composition here a different one: then the keys are left to Hydra.
    if (!typed.some(({ override }) => namesGroup(override))) {
      const added = new Set([...input.parameters.filter((parameter) => parameter.add).map((parameter) => parameter.path), ...typed.filter(({ override }) => override.prefix.startsWith('+')).map(({ override }) => override.key)]);
      for (const { field, override } of typed) {
        const { prefix, key } = override;
        const has = inConfig(key) || added.has(key);
        if ((prefix === '' || prefix === '~') && !has) {
          throw new ValidationError(field, `${key} is not a key of the config composed from ${hydra.primary || 'the chosen groups'}, so Hydra would refuse ${prefix === '~' ? 'to delete it' : `to set it (write +${key}=… to add it)`}`);
        }
        if (prefix === '+' && inConfig(key)) throw new ValidationError(field, `${key} is already in the composed config, so Hydra would refuse to add it (write ${key}=… to set it)`);
      }
    }
    const refs = typed.map(({ override }) => override);
    for (const group of hydra.groups) {
      if (group.required && !refs.some((override) => override.prefix !== '~' && [group.path, group.overrideKey].includes(typedKey(override)))) {
        throw new ValidationError(`groups.${group.overrideKey}`, `must be chosen (the config leaves it ???): one of ${group.options.join(', ')}`);
      }
    }
    for (const { path, value, add } of input.parameters) {
      const field = `parameters.${path}`;
      if (!/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(path)) throw new ValidationError(field, 'is not a config key');
      const parameter = hydra.parameters.find((candidate) => candidate.path === path);
      if (parameter?.readOnly) throw new ValidationError(field, 'is computed by the config (an interpolation) or names the class to instantiate (_target_), and cannot be set here');
      // Hydra's own node is not part of the form's parameters; Hydra checks its keys itself.
      const exists = parameter !== undefined || path.startsWith('hydra.') || hydra.parameters.some((candidate) => candidate.path.startsWith(`${path}.`));
      if (add && exists) throw new ValidationError(field, 'is already in the composed config: set it without adding it');
      if (!add && !exists) {
        throw new ValidationError(field, `is not a key of the config composed from ${hydra.primary || 'the chosen groups'}${input.groups.length > 0 ? ' with the chosen groups' : ''}: add it as a new key (+${path}) if that is what you mean`);
      }
      tokens.push(...formatted(parseField(field, `${add ? '+' : ''}${path}=${valueText(field, value)}`, true)));
    }
    const isSet = (path: string) =>
      input.parameters.some((parameter) => path === parameter.path || path.startsWith(`${parameter.path}.`)) ||
      refs.some((override) => override.prefix !== '~' && (path === override.key || path.startsWith(`${override.key}.`)));
    const unset = hydra.parameters.find((parameter) => parameter.required && !isSet(parameter.path));
    if (unset) throw new ValidationError(`parameters.${unset.path}`, `is required (??? in ${unset.source}): set a value`);
    const suffixSet = input.parameters.some((parameter) => parameter.path === 'experiment_suffix');
    if (hydra.hasExperimentSuffix && description.trim() && !suffixSet) tokens.push(`experiment_suffix=${hydraValue(slug(description))}`);
  } else if (input.groups.length > 0 || input.parameters.length > 0) {
    throw new ValidationError(
      'primary',
      configDir === null
        ? `this project has no Hydra config directory (looked for ${HYDRA_CONFIG_DIRS.map((dir) => `${dir}/`).join(', ')}), so it takes no group choices or parameter values`
        : `is required to set group choices or parameter values: choose a primary config of ${configDir}/`,
    );
  }
  tokens.push(...formatted(raw));
  return [...(hydra && hydra.primary ? ['--config-name', hydra.primary] : []), ...tokens];
}
