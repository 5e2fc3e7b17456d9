// What a launch form needs from a project's Hydra config directory: the primaries, the config groups with their options
// and choices, and the leaves of the composed config. Composition follows Hydra 1.3's defaults-list algorithm
// (hydra/_internal/defaults_list.py), with the launch's group choices applied as Hydra applies command-line group
// overrides, over the config directory and `hydra.searchpath` (search-path.ts); real Hydra 1.3.2 is the test oracle
// (test/hydra/). Out of scope: ConfigStore entries (structured configs live in Python code, which the server never
// runs) and Hydra's own `hydra` config.
import { LRUCache } from 'lru-cache';
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node as YamlNode, type Tags } from 'yaml';
import { AppError, ProjectFileError, ValidationError } from '../../errors.js';
import { listProjectDirectory, loadProjectFile, PROJECT_FILE_LIMITS, parseProjectYaml, projectRoot } from '../files.js';
import { readInWorker } from '../reader.js';
import { readSettingsHere } from '../settings.js';
import { HYDRA_CONFIG_DIRS, locateHydraConfig, searchPathDirs, type HydraLocation } from './search-path.js';

export { HYDRA_CONFIG_DIRS };

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

/**
 * A group choice of a launch: `group` is the group's path ("model") or, for a group used more than once, its override
 * key ("db@source"); `option` one option, `options` several (a list-valued default such as callbacks), both absent or
 * null to turn an optional group off.
 */
export interface HydraChoice {
  group: string;
  option: string | null;
  options?: string[] | null;
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
}

export class HydraConfigError extends AppError {
  constructor(
    /** Relative to the repository ("conf/model/resnet.yaml"); empty when no file is to blame. */
    readonly file: string,
    /** 1-based. */
    readonly line: number | null,
    message: string,
  ) {
    super(file ? `${file}${line === null ? '' : `:${line}`}: ${message}` : message);
  }
}

/** The config directory of the repository at `repoPath` ("conf"), or null when it has none (or is not there). */
export async function findHydraConfigDir(repoPath: string): Promise<string | null> {
  const repoRoot = await projectRoot(repoPath).catch(() => null);
  if (repoRoot === null) return null;
  const location = await locateHydraConfig(repoRoot, await readSettingsHere(repoRoot)).catch(() => null);
  return location?.configDir ?? null;
}

/** `relative` inside directory `dir` of the repository ("" is the repository itself). */
function under(dir: string, relative: string): string {
  return dir === '' ? relative : `${dir}/${relative}`;
}

/**
 * What one composition may read: Hydra projects have tens of config files and a few kB in all (lightning-hydra-template:
 * about 40 files, 20 kB); a defaults list of thousands of entries, each up to the per-file limit, is an attack.
 */
export const COMPOSITION_LIMITS = { files: 500, bytes: 2 * 1024 * 1024 } as const;

// ---------------------------------------------------------------------------------------------------------------
// Reading one config file

type DefaultEntry =
  | { kind: 'self'; line: number }
  | { kind: 'config'; path: string; package: string | null; line: number }
  | { kind: 'group'; group: string; package: string | null; value: string | string[] | null; optional: boolean; override: boolean; line: number; external?: ExternalChoice };

type GroupEntry = Extract<DefaultEntry, { kind: 'group' }>;

interface LoadedConfig {
  /** Relative to the repository, for errors. */
  file: string;
  /** Length of its text, counted against COMPOSITION_LIMITS.bytes. */
  bytes: number;
  /** Relative to the config dir, for HydraParameter.source. */
  source: string;
  header: string | null;
  content: Record<string, unknown>;
  defaults: DefaultEntry[];
}

// OmegaConf reads YAML with PyYAML's SafeLoader (YAML 1.1) minus timestamps; yaml's 1.1 schema also takes y/n as
// booleans, which PyYAML does not (so `x:`/`y:` keys stay strings).
function pyyamlTags(tags: Tags): Tags {
  return tags
    .filter((tag) => !(typeof tag === 'object' && 'tag' in tag && tag.tag === 'tag:yaml.org,2002:timestamp'))
    .map((tag) => {
      if (typeof tag !== 'object' || !('tag' in tag) || tag.tag !== 'tag:yaml.org,2002:bool' || !('test' in tag) || !tag.test) return tag;
      const isTrue = tag.test.test('true');
      return { ...tag, test: isTrue ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/ : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/ };
    });
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

// Hydra's _get_header_dict: `# @key value` lines before anything else; the first other line ends the header.
function packageHeader(text: string, file: string): string | null {
  let header: string | null = null;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    if (!/^#\s*@/.test(line)) break;
    const parts = line.replace(/^#+/, '').trim().split(' ').filter((part) => part !== '');
    if (parts.length !== 2) throw new HydraConfigError(file, index + 1, `expected a header like "# @package foo.bar", got "${line}"`);
    if (parts[0] === '@package') header = parts[1]!;
  }
  return header;
}

function lineOf(node: YamlNode | null | undefined, lines: LineCounter): number {
  return node?.range ? lines.linePos(node.range[0]).line : 1;
}

function parseDefaults(document: Document, lines: LineCounter, file: string): DefaultEntry[] {
  const root = document.contents;
  if (!isMap(root)) return [];
  const pair = root.items.find((item) => isScalar(item.key) && item.key.value === 'defaults');
  if (!pair) return [];
  const list = pair.value as YamlNode | null;
  if (list === null || (isScalar(list) && list.value === null)) return [];
  if (!isSeq(list)) throw new HydraConfigError(file, lineOf(list, lines), 'defaults must be a list');
  return list.items.map((item): DefaultEntry => {
    const node = item as YamlNode;
    const line = lineOf(node, lines);
    if (isScalar(node) && typeof node.value === 'string') {
      if (node.value === '_self_') return { kind: 'self', line };
      const [path, pkg] = splitPackage(node.value);
      return { kind: 'config', path: withoutExtension(path), package: pkg, line };
    }
    if (isMap(node) && node.items.length === 1) {
      const entry = node.items[0]!;
      const key = isScalar(entry.key) ? String(entry.key.value) : '';
      const words = key.split(' ').filter((word) => word !== '');
      const target = words.pop() ?? '';
      let optional = false;
      let override = false;
      for (const word of words) {
        if (word === 'optional') optional = true;
        else if (word === 'override') override = true;
        else throw new HydraConfigError(file, line, `unknown keyword "${word}" in defaults entry "${key}" (only optional and override)`);
      }
      const [group, pkg] = splitPackage(target);
      if (group === '' || group === '/') throw new HydraConfigError(file, line, `defaults entry "${key}" names no config group`);
      const valueNode = entry.value as YamlNode | null;
      let value: string | string[] | null;
      if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) value = null;
      else if (isScalar(valueNode)) value = withoutExtension(String(valueNode.value));
      else if (isSeq(valueNode) && valueNode.items.every((option) => isScalar(option) && option.value !== null)) {
        value = valueNode.items.map((option) => withoutExtension(String((option as { value: unknown }).value)));
      } else throw new HydraConfigError(file, line, `defaults entry "${key}" must name an option, a list of options or null`);
      if (value === '_self_') return { kind: 'self', line };
      return { kind: 'group', group, package: pkg, value, optional, override, line };
    }
    throw new HydraConfigError(file, line, 'a defaults entry is `_self_`, a config name, or one `group: option` pair');
  });
}

// Hydra appends `.yaml` only to a name without it (ConfigSource._normalize_file_name), so `extras: default.yaml` loads
// extras/default.yaml; the form knows options by their names without the extension.
function withoutExtension(name: string): string {
  return name.endsWith('.yaml') ? name.slice(0, -'.yaml'.length) : name;
}

function splitPackage(text: string): [string, string | null] {
  const at = text.indexOf('@');
  return at === -1 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
}

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

// Parsed files by (path, real path, inode, mtime, size), errors included: the launch form and the script preview read
// the same files at every keystroke. Weighed by text length; the parsed form is several times that.
const parsedConfigs = new LRUCache<string, { value: LoadedConfig } | { error: AppError }>({ maxSize: 16 * 1024 * 1024 });

async function loadConfig(root: string, configDir: string, configPath: string): Promise<LoadedConfig | null> {
  const source = `${configPath}.yaml`;
  const file = under(configDir, source);
  return loadProjectFile(root, file, { cache: parsedConfigs, parse: (text) => parseConfig(text, file, source) });
}

function parseConfig(text: string, file: string, source: string): LoadedConfig {
  const { document, lines } = parseProjectYaml(text, file, { version: '1.1', customTags: pyyamlTags, intAsBigInt: true, merge: true });
  const yamlError = document.errors[0];
  if (yamlError) throw new HydraConfigError(file, yamlError.linePos?.[0].line ?? null, `invalid YAML: ${firstLine(yamlError.message)}`);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new HydraConfigError(file, null, `invalid YAML: ${firstLine((error as Error).message)}`);
  }
  if (value !== null && value !== undefined && !plainObject(value)) {
    throw new HydraConfigError(file, lineOf(document.contents, lines), 'a config must be a mapping of keys to values');
  }
  const content: Record<string, unknown> = { ...((value ?? {}) as Record<string, unknown>) };
  delete content.defaults;
  return { file, bytes: text.length, source, header: packageHeader(text, file), content, defaults: parseDefaults(document, lines, file) };
}

// ---------------------------------------------------------------------------------------------------------------
// Composition: the defaults tree, as hydra/_internal/defaults_list.py builds it

/** One config's content, merged at a package, in the order Hydra merges them. */
interface MergeStep {
  source: string;
  package: string;
  content: Record<string, unknown>;
}

interface Parent {
  configPath: string;
  /** parent_base_dir of its children: the directory of its config path. */
  groupPath: string;
  finalPackage: string;
  file: string;
}

interface GroupChoice {
  group: string;
  overrideKey: string;
  value: string | string[] | null;
  optional: boolean;
  /** An optional option that is not on disk: Hydra drops it. */
  skipped: boolean;
  /** Where the chosen option landed (package header included); null when nothing was loaded. */
  loadedPackage: string | null;
  /** Where an option would land from the defaults entry alone (no header). */
  listedPackage: string;
}

const INTERPOLATION = /\$\{\s*([^{}]*?)\s*\}/g;

function dotted(path: string): string {
  return path.replaceAll('/', '.');
}

function dirname(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

// InputDefault._get_final_package: relative to the parent's package unless `_global_` appears, which restarts at the root.
function finalPackage(parentPackage: string, pkg: string): string {
  const joined = parentPackage === '' ? pkg : pkg === '' ? parentPackage : `${parentPackage}.${pkg}`;
  const global = joined.lastIndexOf('_global_');
  return global === -1 ? joined : joined.slice(global + '_global_'.length + 1);
}

// A defaults entry's own `@pkg` (InputDefault.update_parent): `_here_` is the parent's package, `_group_` the group path.
function listedPackage(pkg: string | null, groupPath: string): string | null {
  if (pkg === null) return null;
  if (pkg === '_here_') return '';
  if (pkg.includes('_group_')) return `_global_.${pkg.replaceAll('_group_', dotted(groupPath))}`;
  return pkg;
}

// InputDefault.set_package_header: a header is absolute. A bare `_group_` keeps the default (Hydra 1.1 behaviour).
function headerPackage(header: string | null, groupPath: string): string | null {
  if (header === null || header === '_group_') return null;
  const absolute = header === '_global_' || header.startsWith('_global_.') ? header : header === '' ? '_global_' : `_global_.${header}`;
  return absolute.replaceAll('_group_', dotted(groupPath));
}

function isHydraGroup(groupPath: string): boolean {
  return groupPath === 'hydra' || groupPath.startsWith('hydra/');
}

/** A group choice of the launch, applied as Hydra applies a command-line group override. */
interface ExternalChoice {
  input: HydraChoice;
  /** The override key it applies to ("model", "db@source"). */
  key: string;
  /** null turns the group off (`~key`). */
  value: string | string[] | null;
  /** `override`: changes an entry of the defaults lists; `append`: a new entry of the primary's (`+key=…`); `none`: nothing to do. */
  mode: 'override' | 'append' | 'none';
  used: boolean;
}

class Composer {
  private readonly cache = new Map<string, Promise<LoadedConfig | null>>();
  /** override key → choice, first registration wins (Overrides.add_override): the launch's choices come first. */
  private readonly overrides = new Map<string, { value: string | string[] | null; used: boolean; file: string; line: number; key: string; external: ExternalChoice | null }>();
  private readonly knownChoices = new Map<string, string | null>();
  private readonly chosenKeys = new Set<string>();
  readonly choices: GroupChoice[] = [];
  private bytes = 0;

  constructor(
    /** The repository's real path. */
    private readonly root: string,
    /** The config directory first, then the search path's; a config is read from the first that has it. */
    private readonly dirs: string[],
    private readonly external: ExternalChoice[],
  ) {
    for (const choice of external) {
      if (choice.mode === 'override' && !this.overrides.has(choice.key)) {
        this.overrides.set(choice.key, { value: choice.value, used: false, file: '', line: 0, key: choice.key, external: choice });
      }
    }
  }

  /** `configPath` as a defaults entry of `from` names it; null when there is no such file. */
  async load(configPath: string, from: { file: string; line: number } | null): Promise<LoadedConfig | null> {
    let loaded = this.cache.get(configPath);
    if (loaded) return loaded;
    if (from && configPath.split('/').includes('..')) {
      // Hydra 1.3 itself joins ".." onto the config directory and reads whatever it reaches.
      throw new HydraConfigError(from.file, from.line, `"${configPath}": ".." is not allowed in a defaults entry (it would read outside ${this.dirs[0] || '.'}/)`);
    }
    if (this.cache.size >= COMPOSITION_LIMITS.files) {
      throw new HydraConfigError(from?.file ?? '', from?.line ?? null, `the defaults lists name more than ${COMPOSITION_LIMITS.files} config files, the limit for one config; refused`);
    }
    loaded = (async () => {
      for (const dir of this.dirs) {
        const config = await loadConfig(this.root, dir, configPath);
        if (!config) continue;
        this.bytes += config.bytes;
        if (this.bytes > COMPOSITION_LIMITS.bytes) {
          throw new HydraConfigError(config.file, null, `the config files of this composition pass ${COMPOSITION_LIMITS.bytes / 1024 / 1024} MiB in all, the limit for one config; refused`);
        }
        return config;
      }
      return null;
    })();
    this.cache.set(configPath, loaded);
    return loaded;
  }

  /** The options of a group across the search path (direct files only), sorted. */
  async options(groupPath: string): Promise<string[]> {
    const found = new Set<string>();
    for (const dir of this.dirs) {
      const entries = await listProjectDirectory(this.root, under(dir, groupPath));
      for (const entry of entries ?? []) if (entry.kind === 'file' && entry.name.endsWith('.yaml') && !entry.name.startsWith('.')) found.add(entry.name.slice(0, -'.yaml'.length));
    }
    return [...found].sort();
  }

  /** `primary` "" composes without a primary config, as an app whose @hydra.main names no config_name. */
  async composePrimary(primary: string): Promise<MergeStep[]> {
    const loaded = primary === '' ? { file: this.dirs[0] || '.', bytes: 0, source: '', header: null, content: {}, defaults: [] } : (await this.load(primary, null))!;
    const appended = this.external
      .filter((choice) => choice.mode === 'append')
      .map((choice): GroupEntry => {
        const [group, pkg] = splitPackage(choice.key);
        return { kind: 'group', group, package: pkg, value: choice.value, optional: false, override: false, line: 0, external: choice };
      });
    const steps = await this.expand(loaded, { configPath: primary, groupPath: '', finalPackage: finalPackage('', headerPackage(loaded.header, '') ?? ''), file: loaded.file }, [primary], appended);
    for (const override of this.overrides.values()) {
      if (!override.used && !override.external) throw new HydraConfigError(override.file, override.line, `could not override "${override.key}": no match in the defaults list`);
    }
    return steps;
  }

  /** The override keys the defaults lists used for group `groupPath` ("db@source", "db@destination"). */
  keysOf(groupPath: string): string[] {
    return [...new Set(this.choices.filter((choice) => choice.group === groupPath).map((choice) => choice.overrideKey))];
  }

  private async expand(loaded: LoadedConfig, node: Parent, stack: string[], appended: GroupEntry[] = []): Promise<MergeStep[]> {
    const self: MergeStep = { source: loaded.source, package: node.finalPackage, content: loaded.content };
    const defaults = [...loaded.defaults];
    if (defaults.length === 0 && appended.length === 0) return [self];
    const selves = defaults.filter((entry) => entry.kind === 'self');
    if (selves.length > 1) throw new HydraConfigError(loaded.file, selves[1]!.line, 'duplicate _self_ in the defaults list');
    // Hydra 1.1+: without _self_, the config's own keys come after its defaults (and before the launch's `+group` entries).
    if (selves.length === 0 && (defaults.length === 0 || defaults.some((entry) => entry.kind !== 'group' || !entry.override))) defaults.push({ kind: 'self', line: 0 });
    defaults.push(...appended);

    this.registerOverrides(defaults, node, loaded);

    // Hydra walks the list backwards, so an `override` inside a later entry (an experiment) is known before the
    // earlier entry it changes (the optimizer) is expanded.
    const children: (MergeStep[] | (() => Promise<MergeStep[]>))[] = [];
    for (const entry of [...defaults].reverse()) {
      if (entry.kind === 'self') children.push([self]);
      else if (entry.kind === 'config') children.push(await this.expandConfig(entry.path, entry.package, false, node, entry.line, stack));
      else if (!entry.override) {
        const deferred = typeof entry.value === 'string' && entry.value.includes('${');
        if (deferred) children.push(() => this.expandGroup(this.resolveInterpolation(entry, loaded), node, stack));
        else children.push(await this.expandGroup(entry, node, stack));
      }
    }
    // A list of nothing but overrides leaves the config a leaf of the tree: its own keys are merged where it stands.
    if (children.length === 0) return [self];
    const steps: MergeStep[][] = [];
    for (const child of children) steps.push(typeof child === 'function' ? await child() : child);
    return steps.reverse().flat();
  }

  private registerOverrides(defaults: DefaultEntry[], node: Parent, loaded: LoadedConfig): void {
    let lastOverride: (GroupEntry) | null = null;
    for (const entry of defaults) {
      if (entry.kind === 'self' || (entry.kind === 'group' && entry.external)) continue;
      if (entry.kind === 'group' && entry.override) {
        lastOverride = entry;
        const { groupPath, overrideKey } = this.place(entry.group, entry.package, node);
        if (!isHydraGroup(groupPath) && !this.overrides.has(overrideKey)) {
          this.overrides.set(overrideKey, { value: entry.value, used: false, file: loaded.file, line: entry.line, key: overrideKey, external: null });
        }
      } else if (lastOverride && !(entry.kind === 'group' && isHydraGroup(this.place(entry.group, entry.package, node).groupPath))) {
        throw new HydraConfigError(loaded.file, entry.line, `override "${lastOverride.group}: ${String(lastOverride.value)}" comes before this entry; overrides must be at the end of the defaults list`);
      }
    }
  }

  private resolveInterpolation(entry: GroupEntry, loaded: LoadedConfig): GroupEntry {
    const text = entry.value as string;
    const resolved = text.replace(INTERPOLATION, (whole, key: string) => this.knownChoices.get(key) ?? whole);
    if (resolved.includes('${')) {
      const known = [...this.knownChoices.keys()].join(', ');
      throw new HydraConfigError(loaded.file, entry.line, `cannot resolve "${text}" in the defaults list${known ? ` (known choices: ${known})` : ''}`);
    }
    return { ...entry, value: resolved };
  }

  /** Where a group entry of `parent` points: GroupDefault.get_group_path, get_final_package and get_override_key. */
  private place(group: string, pkg: string | null, parent: Parent) {
    const absolute = group.startsWith('/');
    const relative = absolute ? group.slice(1) : group;
    const groupPath = absolute || parent.groupPath === '' ? relative : `${parent.groupPath}/${relative}`;
    const explicit = listedPackage(pkg, groupPath);
    const listed = finalPackage(parent.finalPackage, explicit ?? dotted(relative));
    const overrideKey = listed === dotted(groupPath) ? groupPath : `${groupPath}@${listed || '_global_'}`;
    return { groupPath, relative, explicit, listed, overrideKey };
  }

  /** A missing option: the launch's own choice is refused on its field, a config's entry on its line. */
  private async missingOption(option: string, groupPath: string, entry: GroupEntry, parent: Parent, external: ExternalChoice | null): Promise<never> {
    const options = await this.options(groupPath);
    const available = options.length > 0 ? `; options in ${groupPath}: ${options.join(', ')}` : `; ${under(this.dirs[0]!, groupPath)}/ has no options`;
    if (external) throw new ValidationError(`groups.${external.input.group}`, `"${option}" is not an option of ${groupPath}${options.length > 0 ? `: ${options.join(', ')}` : ` (${under(this.dirs[0]!, groupPath)}/ has none)`}`);
    throw new HydraConfigError(parent.file, entry.line, `could not find option "${option}" of config group "${groupPath}"${available}`);
  }

  private async expandGroup(entry: GroupEntry, parent: Parent, stack: string[]): Promise<MergeStep[]> {
    const { groupPath, relative, explicit, listed, overrideKey } = this.place(entry.group, entry.package, parent);
    if (isHydraGroup(groupPath)) return [];
    let value = entry.value;
    let external = entry.external ?? null;
    const override = this.overrides.get(overrideKey);
    if (override) {
      value = override.value;
      override.used = true;
      if (override.external) {
        override.external.used = true;
        external = override.external;
      }
    }
    if (external && value === null) {
      // `~key`: the entry is deleted, whatever it picked; an entry that picks nothing needs no `~`.
      if (entry.value === null) external.mode = 'none';
      this.choices.push({ group: groupPath, overrideKey, value: null, optional: true, skipped: false, loadedPackage: null, listedPackage: listed });
      return [];
    }
    const choice: GroupChoice = { group: groupPath, overrideKey, value, optional: entry.optional, skipped: false, loadedPackage: null, listedPackage: listed };
    this.choices.push(choice);

    if (Array.isArray(value)) {
      // A list of options becomes one plain config entry per option, merged in list order.
      const steps: MergeStep[][] = [];
      for (const option of [...value].reverse()) {
        if (external && !(await this.load(`${groupPath}/${option}`, { file: parent.file, line: entry.line }))) await this.missingOption(option, groupPath, entry, parent, external);
        steps.push(await this.expandConfig(`${entry.group}/${option}`, entry.package, entry.optional, parent, entry.line, stack, choice));
      }
      return steps.reverse().flat();
    }

    const previous = this.knownChoices.get(overrideKey);
    if (previous !== undefined && previous !== value) {
      throw new HydraConfigError(parent.file, entry.line, `multiple values for ${overrideKey} (${previous} and ${value}); to change the choice use "override ${overrideKey}: ${value}"`);
    }
    this.knownChoices.set(overrideKey, value);
    // `???` must be picked by the launch; the form shows it as required rather than failing.
    if (value === null || value === '???') return [];
    if (this.chosenKeys.has(overrideKey)) throw new HydraConfigError(parent.file, entry.line, `${overrideKey} appears more than once in the final defaults list`);
    this.chosenKeys.add(overrideKey);

    const configPath = `${groupPath}/${value}`;
    const loaded = await this.load(configPath, { file: parent.file, line: entry.line });
    if (!loaded) {
      if (entry.optional && !external) {
        choice.skipped = true;
        return [];
      }
      return this.missingOption(value, groupPath, entry, parent, external);
    }
    const pkg = finalPackage(parent.finalPackage, explicit ?? headerPackage(loaded.header, groupPath) ?? dotted(relative));
    choice.loadedPackage = pkg;
    return this.expand(loaded, { configPath, groupPath, finalPackage: pkg, file: loaded.file }, this.guard(stack, configPath, parent.file, entry.line));
  }

  private async expandConfig(path: string, pkg: string | null, optional: boolean, parent: Parent, line: number, stack: string[], choice?: GroupChoice): Promise<MergeStep[]> {
    const absolute = path.startsWith('/');
    const relative = absolute ? path.slice(1) : path;
    const configPath = absolute || parent.groupPath === '' ? relative : `${parent.groupPath}/${relative}`;
    const groupPath = dirname(configPath);
    if (isHydraGroup(groupPath)) return [];
    const loaded = await this.load(configPath, { file: parent.file, line });
    if (!loaded) {
      if (optional) return [];
      throw new HydraConfigError(parent.file, line, `could not load "${configPath}": no ${under(this.dirs[0]!, configPath)}.yaml`);
    }
    const explicit = listedPackage(pkg, groupPath);
    const final = finalPackage(parent.finalPackage, explicit ?? headerPackage(loaded.header, groupPath) ?? dotted(dirname(relative)));
    if (choice && choice.loadedPackage === null) choice.loadedPackage = final;
    return this.expand(loaded, { configPath, groupPath, finalPackage: final, file: loaded.file }, this.guard(stack, configPath, parent.file, line));
  }

  // Hydra itself recurses until Python's stack runs out; name the loop instead.
  private guard(stack: string[], configPath: string, file: string, line: number): string[] {
    const next = [...stack, configPath];
    const start = stack.indexOf(configPath);
    if (start !== -1) throw new HydraConfigError(file, line, `defaults lists form a cycle: ${next.slice(start).map((path) => `${path}.yaml`).join(' -> ')}`);
    return next;
  }
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

const OPTION_NAME = /^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*(\/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)*$/;
const GROUP_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*(@[A-Za-z0-9_.]*)?$/;

function externalChoice(input: HydraChoice): ExternalChoice {
  const field = `groups.${input.group}`;
  if (!GROUP_KEY.test(input.group)) throw new ValidationError(field, 'is not a config group (a path like model/encoder, with @package when the group is used more than once)');
  if (isHydraGroup(splitPackage(input.group)[0])) throw new ValidationError(field, "is one of Hydra's own groups, not the project's: set it in the typed overrides");
  const value = input.options ? input.options.map(withoutExtension) : input.option === null ? null : withoutExtension(input.option);
  for (const option of value === null ? [] : Array.isArray(value) ? value : [value]) {
    if (!OPTION_NAME.test(option)) throw new ValidationError(field, `"${option}" is not an option name`);
  }
  return { input, key: input.group, value, mode: 'override', used: false };
}

function overrideText(choice: ExternalChoice): string {
  if (choice.value === null) return `~${choice.key}`;
  const value = Array.isArray(choice.value) ? `[${choice.value.join(',')}]` : choice.value;
  return `${choice.mode === 'append' ? '+' : ''}${choice.key}=${value}`;
}

async function compose(repoPath: string, primary: string | undefined, choices: readonly HydraChoice[]): Promise<HydraConfig> {
  const noConfigDir = () => new HydraConfigError('', null, `no Hydra config directory in ${repoPath} (looked for ${HYDRA_CONFIG_DIRS.map((dir) => `${dir}/`).join(', ')})`);
  const repoRoot = await projectRoot(repoPath).catch(() => {
    throw noConfigDir();
  });
  const settings = await readSettingsHere(repoRoot).catch((error: unknown) => {
    throw error instanceof ValidationError ? new HydraConfigError('', null, error.message) : error;
  });
  const location: HydraLocation | null = await locateHydraConfig(repoRoot, settings);
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
  };
}

async function hasSubFolders(root: string, dirs: string[], groupPath: string): Promise<boolean> {
  for (const dir of dirs) {
    const entries = await listProjectDirectory(root, under(dir, groupPath));
    if (entries?.some((entry) => entry.kind === 'directory')) return true;
  }
  return false;
}
