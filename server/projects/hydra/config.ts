// What a launch form needs from a project's Hydra config directory: the primaries, the config groups with their options
// and choices, and the leaves of the composed config. Composition follows Hydra 1.3's defaults-list algorithm
// (hydra/_internal/defaults_list.py), with the launch's group choices applied as Hydra applies command-line group
// overrides, over the config directory and `hydra.searchpath` (search-path.ts); real Hydra 1.3.2 is the test oracle
// (test/hydra/). Out of scope: ConfigStore entries (structured configs live in Python code, which the server never
// runs) and Hydra's own `hydra` config.
import { ProjectFileError, ValidationError } from '../../errors.js';
import { listProjectDirectory, PROJECT_FILE_LIMITS, projectRoot } from '../files.js';
import { readInWorker } from '../reader.js';
import { readSettingsHere } from '../settings.js';
import { HydraConfigError, loadConfig, plainObject, splitPackage, under } from './config-file.js';
import { Composer, dirname, dotted, externalChoice, overrideText, type HydraChoice, type MergeStep } from './defaults-list.js';
import { HYDRA_CONFIG_DIRS, locateHydraConfig, searchPathDirs } from './search-path.js';

export { HYDRA_CONFIG_DIRS, HydraConfigError, type HydraChoice };

export type HydraValueType = 'bool' | 'int' | 'float' | 'string' | 'list' | 'dict' | 'null';

export interface HydraParameter {
  /** Dotted key in the composed config, e.g. "optimizer.lr". */
  path: string;
  /** 'dict' only for an empty mapping: other mappings are spread into their leaves. */
  type: HydraValueType;
  default: unknown;
  /** An interpolation, or a `_target_` (the class a block instantiates): shown, not edited. */
  readOnly: boolean;
  /** `???`: OmegaConf's missing value, which the launch must set. */
  required: boolean;
  /** The file (relative to the config dir) that set the final value. */
  source: string;
}

export interface HydraGroup {
  /** Slash-separated, relative to the config dir: "model/encoder". */
  path: string;
  /** Option names found on disk, sorted; "lm/s4" for an option in a sub-folder that is not a group of its own. */
  options: string[];
  /** What this composition picks: the launch's choice, else the defaults lists' after their `override` entries; null when nothing. */
  default: string | string[] | null;
  /** `optional group: x` or `group: null`: may be left off. */
  optional: boolean;
  /** `group: ???`: Hydra refuses to compose until an option is chosen. */
  required: boolean;
  /** The choice is a list of options (`callbacks: [a, b]`, even of one). */
  listValued: boolean;
  /** Where the chosen options are placed when that is not the group path ("_global_" for the root), else null. */
  package: string | null;
  /** The key an override must use to change this group's choice: "data@dataset", "optimizer". */
  overrideKey: string;
}


export interface HydraConfig {
  /** Relative to the repository; "" when the configs sit at its root (`config_path="."` beside the entry script). */
  configDir: string;
  /** Directories `hydra.searchpath` adds after configDir, relative to the repository. */
  searchPath: string[];
  primaries: string[];
  /** "" when the config directory has no top-level config: the launch's groups are composed onto an empty config. */
  primary: string;
  groups: HydraGroup[];
  parameters: HydraParameter[];
  hasExperimentSuffix: boolean;
  /** The launch's group choices as Hydra command-line overrides, in the order given: `model=vit`, `+extra=x`, `~logger`. */
  groupOverrides: { group: string; override: string }[];
  /** The composed `hydra.sweeper.params` as the YAML gave it (a sweep's default runs: sweep.ts, sweeperParams). */
  sweeperParams: unknown;
  /** The project's configs set `hydra.run.dir` themselves (a sweep's tasks then keep it). */
  setsRunDir: boolean;
}


/** The config directory of the repository at `repoPath` ("conf"), or null when it has none (or is not there). */
export async function findHydraConfigDir(repoPath: string): Promise<string | null> {
  const repoRoot = await projectRoot(repoPath).catch(() => null);
  if (repoRoot === null) return null;
  const location = await locateHydraConfig(repoRoot, await readSettingsHere(repoRoot)).catch(() => null);
  return location?.configDir ?? null;
}



// ---------------------------------------------------------------------------------------------------------------
// Merging and flattening

interface Leaf {
  kind: 'leaf';
  value: unknown;
  source: string;
}

interface Branch {
  kind: 'branch';
  children: Map<string, Entry>;
  source: string;
}

type Entry = Leaf | Branch;

function toEntry(value: unknown, source: string): Entry {
  if (plainObject(value)) {
    return { kind: 'branch', source, children: new Map(Object.entries(value).map(([key, child]) => [key, toEntry(child, source)])) };
  }
  return { kind: 'leaf', value, source };
}

// OmegaConf.merge: mappings merge key by key, anything else (lists included) is replaced by the later value.
function mergeInto(target: Branch, incoming: Branch): void {
  if (incoming.children.size === 0 && target.children.size === 0) target.source = incoming.source;
  for (const [key, value] of incoming.children) {
    const existing = target.children.get(key);
    if (existing?.kind === 'branch' && value.kind === 'branch') mergeInto(existing, value);
    else target.children.set(key, value);
  }
}

function plainOf(entry: Entry): unknown {
  return entry.kind === 'leaf' ? entry.value : Object.fromEntries([...entry.children].map(([key, child]) => [key, plainOf(child)]));
}

function placeAt(pkg: string, content: Record<string, unknown>, source: string): Branch {
  let entry = toEntry(content, source) as Branch;
  for (const key of pkg === '' ? [] : pkg.split('.').reverse()) entry = { kind: 'branch', source, children: new Map([[key, entry]]) };
  return entry;
}

/** JSON-compatible: bigint (YAML ints) to number, and the odd YAML 1.1 types to their plain forms. */
function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(jsonValue);
  if (value instanceof Set) return [...value].map(jsonValue);
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [String(key), jsonValue(item)]));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (plainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonValue(item)]));
  return value === undefined ? null : value;
}

function typeOf(value: unknown): HydraValueType {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  // Integers arrive as bigint, so a number here was written as a float (1.0, 1e-3, .inf).
  if (typeof value === 'number') return 'float';
  if (Array.isArray(value) || value instanceof Set) return 'list';
  if (value instanceof Map || plainObject(value)) return 'dict';
  return 'string';
}

function hasInterpolation(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${');
  if (Array.isArray(value)) return value.some(hasInterpolation);
  if (plainObject(value)) return Object.values(value).some(hasInterpolation);
  return false;
}

// Only interpolations are computed: the siblings of a `_target_` are the constructor arguments users override every day
// (`model.optimizer.lr=0.002`), and Hydra takes them like any value. `_target_` itself names a class: shown, not edited.
function flatten(branch: Branch, prefix: string, out: HydraParameter[]): void {
  for (const [key, entry] of branch.children) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (entry.kind === 'branch') {
      if (entry.children.size > 0) flatten(entry, path, out);
      else out.push({ path, type: 'dict', default: {}, readOnly: false, required: false, source: entry.source });
      continue;
    }
    const type = typeOf(entry.value);
    out.push({ path, type, default: jsonValue(entry.value), readOnly: key === '_target_' || hasInterpolation(entry.value), required: entry.value === '???', source: entry.source });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The directory

/**
 * Every directory below a config dir that holds YAML somewhere inside, with its own options, added to `out` (the
 * search path's directories are walked into the same map). Linked directories are not entered (a directory entry that
 * is a symbolic link is not a directory here).
 */
async function groupDirectories(root: string, configDir: string, relative: string, out: Map<string, Set<string>>, walked: { count: number }): Promise<boolean> {
  if (++walked.count > PROJECT_FILE_LIMITS.directories) {
    throw new HydraConfigError(under(configDir, relative), null, `the config directory holds more than ${PROJECT_FILE_LIMITS.directories} directories, the limit; refused`);
  }
  const entries = (await listProjectDirectory(root, relative ? under(configDir, relative) : configDir || '.')) ?? [];
  const options = entries.filter((entry) => entry.kind === 'file' && entry.name.endsWith('.yaml') && !entry.name.startsWith('.')).map((entry) => entry.name.slice(0, -'.yaml'.length));
  let hasYaml = options.length > 0;
  for (const entry of entries) {
    if (entry.kind !== 'directory' || entry.name.startsWith('.') || entry.name === '__pycache__' || entry.name === 'node_modules') continue;
    const path = relative ? `${relative}/${entry.name}` : entry.name;
    if (path === 'hydra') continue;
    if (await groupDirectories(root, configDir, path, out, walked)) hasYaml = true;
  }
  if (relative && hasYaml) {
    const known = out.get(relative) ?? new Set<string>();
    for (const option of options) known.add(option);
    out.set(relative, known);
  }
  return hasYaml;
}

function byPath<T extends { path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Which directories are config groups of their own. A top-level directory always is; a sub-folder is when the
 * composition picks from it, or a primary or an option of its parent names it in a defaults list (`model/resnet.yaml:
 * - encoder: small`). Any other sub-folder only sorts options: `experiment/lm/s4.yaml` is option `lm/s4` of `experiment`, as Hydra
 * takes `experiment=lm/s4`.
 */
async function groupsOf(directories: Map<string, Set<string>>, picked: Set<string>, primaries: string[], composer: Composer): Promise<Map<string, string[]>> {
  const isGroup = new Map<string, boolean>();
  for (const path of [...directories.keys()].sort()) {
    const parent = dirname(path);
    let own = parent === '' || picked.has(path);
    if (!own) {
      const namers = [...[...(directories.get(parent) ?? [])].map((option) => `${parent}/${option}`), ...primaries];
      for (const configPath of namers) {
        const loaded = await composer.load(configPath, null).catch(() => null);
        const relative = configPath.includes('/') ? basename(path) : path;
        if (loaded?.defaults.some((entry) => entry.kind === 'group' && (entry.group === relative || entry.group === `/${path}`))) {
          own = true;
          break;
        }
      }
    }
    isGroup.set(path, own);
  }
  const groups = new Map<string, string[]>();
  for (const [path, own] of isGroup) if (own) groups.set(path, []);
  for (const [path, options] of directories) {
    let group = path;
    while (!isGroup.get(group)) group = dirname(group);
    const prefix = path === group ? '' : `${path.slice(group.length + 1)}/`;
    groups.get(group)!.push(...[...options].map((option) => `${prefix}${option}`));
  }
  for (const options of groups.values()) options.sort();
  return groups;
}

/**
 * Reads the Hydra config directory of a checked-out project (see search-path.ts for where it is found) and composes
 * `primary` (default: @hydra.main's config_name, else config, else train, else the first top-level YAML) with the
 * launch's group `choices`. Runs in the project-reader worker (server/projects/reader.ts), never on the event loop.
 */
export function readHydraConfig(repoPath: string, primary?: string, choices: readonly HydraChoice[] = []): Promise<HydraConfig> {
  return readInWorker<HydraConfig>('hydraConfig', [repoPath, primary, choices], [HydraConfigError, ValidationError], (reason) => new HydraConfigError('', null, `reading the Hydra config of ${repoPath} ${reason}`));
}

/** readHydraConfig in this thread: what the worker runs. Every refusal of a file is a HydraConfigError, of a choice a ValidationError. */
export async function composeHydraConfig(repoPath: string, primary?: string, choices: readonly HydraChoice[] = []): Promise<HydraConfig> {
  try {
    return await compose(repoPath, primary, choices);
  } catch (error) {
    if (error instanceof ProjectFileError) throw new HydraConfigError(error.file, error.line, error.reason);
    throw error;
  }
}


async function compose(repoPath: string, primary: string | undefined, choices: readonly HydraChoice[]): Promise<HydraConfig> {
  const noConfigDir = () => new HydraConfigError('', null, `no Hydra config directory in ${repoPath} (looked for ${HYDRA_CONFIG_DIRS.map((dir) => `${dir}/`).join(', ')})`);
  const repoRoot = await projectRoot(repoPath).catch(() => {
    throw noConfigDir();
  });
  const settings = await readSettingsHere(repoRoot).catch((error: unknown) => {
    throw error instanceof ValidationError ? new HydraConfigError('', null, error.message) : error;
  });
  const location = await locateHydraConfig(repoRoot, settings);
  if (!location) throw noConfigDir();
  const { configDir } = location;

  const top = (await listProjectDirectory(repoRoot, configDir || '.')) ?? [];
  const primaries = top.filter((entry) => entry.kind === 'file' && entry.name.endsWith('.yaml') && !entry.name.startsWith('.')).map((entry) => entry.name.slice(0, -'.yaml'.length)).sort();
  const named = location.configName !== null && primaries.includes(location.configName) ? location.configName : undefined;
  // No top-level config: Hydra composes the groups the command line picks onto an empty config.
  const chosen = primary ?? named ?? (primaries.includes('config') ? 'config' : primaries.includes('train') ? 'train' : (primaries[0] ?? ''));
  if (chosen === '' ? primaries.length > 0 : !primaries.includes(chosen)) {
    throw new HydraConfigError(under(configDir, `${chosen}.yaml`), null, `no primary config "${chosen}"; available: ${primaries.join(', ') || 'none'}`);
  }

  // Hydra reads `hydra.searchpath` from the primary alone, before composing.
  const primaryHydra = chosen === '' ? null : (await loadConfig(repoRoot, configDir, chosen))?.content.hydra;
  const dirs = [configDir, ...(plainObject(primaryHydra) ? await searchPathDirs(repoRoot, primaryHydra.searchpath, settings.train_script) : [])];
  // A choice that matches no entry of the defaults lists is appended to the primary's (`+group=option`) in a second
  // pass; a choice appended into a config that names another choice's group settles in a third.
  const external = choices.map(externalChoice);
  let composer: Composer;
  let steps: MergeStep[];
  for (let pass = 1; ; pass++) {
    composer = new Composer(repoRoot, dirs, external);
    steps = await composer.composePrimary(chosen);
    const unmatched = external.filter((choice) => choice.mode === 'override' && !choice.used);
    if (unmatched.length === 0) break;
    if (pass >= 4) throw new ValidationError(`groups.${unmatched[0]!.input.group}`, 'matches no entry of the defaults lists');
    for (const choice of unmatched) {
      const [groupPath] = splitPackage(choice.key);
      const keys = composer.keysOf(groupPath);
      if (keys.length === 1 && !choice.key.includes('@')) choice.key = keys[0]!;
      // Turning off what nothing picks changes nothing.
      else if (choice.value === null) choice.mode = 'none';
      else if (keys.length > 1 && !choice.key.includes('@')) {
        throw new ValidationError(`groups.${choice.input.group}`, `config group ${groupPath} is used more than once (${keys.join(', ')}): name which one`);
      } else if ((await composer.options(groupPath)).length === 0 && !(await hasSubFolders(repoRoot, dirs, groupPath))) {
        throw new ValidationError(`groups.${choice.input.group}`, `no config group "${groupPath}" in ${configDir || '.'}/`);
      } else choice.mode = 'append';
    }
  }

  const root: Branch = { kind: 'branch', source: chosen === '' ? '' : `${chosen}.yaml`, children: new Map() };
  for (const step of steps) mergeInto(root, placeAt(step.package, step.content, step.source));
  const hydraNode = root.children.get('hydra');
  const hydraPlain = hydraNode ? (plainOf(hydraNode) as Record<string, unknown> | null) : null;
  const hydraPart = (key: string) => (plainObject(hydraPlain) && plainObject(hydraPlain[key]) ? hydraPlain[key] : null);
  root.children.delete('hydra');
  const parameters: HydraParameter[] = [];
  flatten(root, '', parameters);

  const directories = new Map<string, Set<string>>();
  const walked = { count: 0 };
  for (const dir of dirs) await groupDirectories(repoRoot, dir, '', directories, walked);
  const picked = new Set(composer.choices.map((choice) => choice.group));
  const groups: HydraGroup[] = [];
  for (const [path, options] of await groupsOf(directories, picked, primaries, composer)) {
    const keys = composer.keysOf(path).sort();
    // A folder that only holds other groups is no group.
    if (keys.length === 0 && options.length === 0) continue;
    if (keys.length === 0) {
      groups.push({ path, options, default: null, optional: false, required: false, listValued: false, package: null, overrideKey: path });
      continue;
    }
    for (const key of keys) {
      // Choices are recorded walking the lists backwards, so the last one recorded is the first one listed.
      const choice = composer.choices.findLast((c) => c.overrideKey === key)!;
      const placed = choice.loadedPackage ?? choice.listedPackage;
      groups.push({
        path,
        options,
        default: choice.skipped || choice.value === '???' ? null : choice.value,
        optional: choice.optional || choice.value === null,
        required: choice.value === '???',
        listValued: Array.isArray(choice.value),
        package: placed === dotted(path) ? null : placed || '_global_',
        overrideKey: key,
      });
    }
  }

  return {
    configDir,
    searchPath: dirs.slice(1),
    primaries,
    primary: chosen,
    groups: groups.sort(byPath),
    parameters: parameters.sort(byPath),
    hasExperimentSuffix: root.children.has('experiment_suffix'),
    groupOverrides: external.filter((choice) => choice.mode !== 'none').map((choice) => ({ group: choice.input.group, override: overrideText(choice) })),
    sweeperParams: hydraPart('sweeper')?.params ?? null,
    setsRunDir: hydraPart('run')?.dir != null,
  };
}

async function hasSubFolders(root: string, dirs: string[], groupPath: string): Promise<boolean> {
  for (const dir of dirs) {
    const entries = await listProjectDirectory(root, under(dir, groupPath));
    if (entries?.some((entry) => entry.kind === 'directory')) return true;
  }
  return false;
}
