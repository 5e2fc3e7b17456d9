// A sweep's runs, each checked as a single launch would be: the sweep overrides (and the sweep syntax typed among
// the raw overrides, and the primary's hydra.sweeper.params) expanded as Hydra's BasicSweeper expands them
// (projects/hydra/sweep.ts); a run's group values become group choices, composed per distinct combination as the
// form composes them, and every run's arguments go through buildHydraArgs. Each task then gets the words its run
// would have as a single launch, plus its own hydra.job.num and output directory.
import { ValidationError } from '../errors.js';
import { readHydraConfig, type HydraConfig } from '../projects/hydra/config.js';
import { OverrideParseError, formatOverride, isSweepOverride, parseOverride, parseOverrides, type Override } from '../projects/hydra/overrides.js';
import { planSweep, sweeperParams } from '../projects/hydra/sweep.js';
import { buildHydraArgs, type GroupChoice } from '../jobs/input.js';
import type { LaunchBase, LaunchInput } from '../jobs/prepare.js';

export interface PlannedRun {
  index: number;
  /** The run's sweep values, one override each (`seed=1`, `model=vit`), in the order of the sweep's keys. */
  overrides: string[];
  /** The run as a single launch: the shared settings with its group choices and its other values as overrides. */
  input: LaunchInput;
  /** The words the task appends to the python command (its Hydra arguments, job number, output directory). */
  words: string[];
}

export interface SweepRuns {
  /** Keys whose value differs between runs: the columns that tell the runs apart. */
  varying: string[];
  /** Every key of the sweep, in Hydra's order (the first varies slowest). */
  keys: string[];
  runs: PlannedRun[];
}

function parsed(field: string, parse: () => Override[]): Override[] {
  try {
    return parse();
  } catch (error) {
    if (error instanceof OverrideParseError) throw new ValidationError(field, error.message);
    throw error;
  }
}

const typedKey = (override: Override) => (override.package === null ? override.key : `${override.key}@${override.package}`);
const isHydraKey = (override: Override) => override.key === 'hydra' || override.key.startsWith('hydra.');

/** A run's value of a config group as the form's choice; null when it is no plain choice of an option (left to Hydra). */
function asGroupChoice(override: Override, hydra: HydraConfig | null): GroupChoice | null {
  if (!hydra || override.value === null || (override.prefix !== '' && override.prefix !== '+')) return null;
  const group = hydra.groups.find((candidate) => candidate.overrideKey === typedKey(override) || (override.package === null && candidate.path === override.key));
  if (!group || !group.options.includes(override.value)) return null;
  return { group: group.overrideKey, option: override.value };
}

/**
 * Expands and checks a sweep. `definition` is the sweep's own overrides; sweep syntax in the raw overrides joins it
 * (after it), the raw overrides' single values stay. `runDirOf(index)` names a task's Hydra output directory, used
 * unless the project's configs or the overrides set hydra.run.dir.
 */
export async function planRuns(base: LaunchBase, input: LaunchInput, definition: string[], limit: number, runDirOf: (index: number) => string): Promise<SweepRuns> {
  const { hydra, project, description, configDir } = base;
  const raw = parsed('rawOverrides', () => parseOverrides(input.rawOverrides));
  const rawSweeps = raw.filter((override) => !isHydraKey(override) && isSweepOverride(override));
  // The raw overrides' single values keep their place (before the runs' values) as words: text re-joined could split
  // a value with a space in it.
  const shared: LaunchInput = rawSweeps.length === 0 ? input : { ...input, rawOverrides: '', overrides: [...raw.filter((override) => !rawSweeps.includes(override)).map(formatOverride), ...(input.overrides ?? [])] };
  // The sweep's own overrides are refused on `sweep.<key>` (or `sweep.<index>` when not even the key can be read);
  // planSweep names those typed among the raw overrides `rawOverrides`.
  definition.forEach((text, index) => {
    try {
      parseOverride(text);
    } catch (error) {
      if (!(error instanceof OverrideParseError)) throw error;
      const key = /^[+~]*([A-Za-z_][\w./@-]*)=/.exec(text)?.[1];
      throw new ValidationError(key ? `sweep.${key}` : `sweep.${index}`, error.message);
    }
  });
  const params = hydra ? sweeperParams(hydra.sweeperParams) : null;
  const plan = planSweep([...definition, ...rawSweeps.map(formatOverride)], {
    limit,
    groupOptions: (group) => hydra?.groups.find((candidate) => candidate.path === group || candidate.overrideKey === group)?.options,
    params,
  });
  if (plan.varying.length === 0) throw new ValidationError('sweep', 'no key takes more than one value (write seed=1,2,3 or lr=range(0.1,1,0.2)): launch a single job instead');

  const typed = [...raw, ...(input.overrides ?? []).map((token, index) => parsed(`overrides.${index}`, () => [parseOverride(token)])[0]!)];
  const setsRunDir = (hydra?.setsRunDir ?? false) || typed.some((override) => override.key === 'hydra.run.dir' || override.key === 'hydra.run');
  const compositions = new Map<string, Promise<HydraConfig>>();
  const runs: PlannedRun[] = [];
  for (const [index, overrides] of plan.runs.entries()) {
    const groups = [...shared.groups];
    const others: string[] = [];
    for (const text of overrides) {
      const override = parseOverride(text);
      const choice = asGroupChoice(override, hydra);
      if (!choice) {
        others.push(text);
        continue;
      }
      // The sweep's value replaces the form's choice of that group.
      const at = groups.findIndex((existing) => existing.group === choice.group);
      if (at >= 0) groups.splice(at, 1, choice);
      else groups.push(choice);
    }
    const runInput: LaunchInput = { ...shared, groups, overrides: [...(shared.overrides ?? []), ...others] };
    const key = JSON.stringify(groups);
    let composition = compositions.get(key);
    if (!composition && hydra && input.primary !== null) {
      composition = readHydraConfig(project.localPath, input.primary, groups);
      compositions.set(key, composition);
    }
    let words: string[];
    try {
      words = buildHydraArgs(runInput, composition ? await composition : hydra, project.settings, description, configDir);
    } catch (error) {
      if (error instanceof ValidationError) throw new ValidationError(error.field, `run ${index} (${overrides.join(' ')}): ${error.message}`);
      throw error;
    }
    words.push(`hydra.job.num=${index}`);
    if (!setsRunDir) words.push(`hydra.run.dir=${runDirOf(index)}`);
    runs.push({ index, overrides, input: runInput, words });
  }
  return { varying: plan.varying, keys: plan.dimensions.map((dimension) => dimension.key), runs };
}
