// Composition: the defaults tree, as hydra/_internal/defaults_list.py builds it, with the launch's group choices applied
// as Hydra applies command-line group overrides.
import { ValidationError } from '../../errors.js';
import { listProjectDirectory } from '../files.js';
import { HydraConfigError, loadConfig, plainObject, splitPackage, under, withoutExtension, type DefaultEntry, type GroupEntry, type LoadedConfig } from './config-file.js';

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

/**
 * What one composition may read: Hydra projects have tens of config files and a few kB in all (lightning-hydra-template:
 * about 40 files, 20 kB); a defaults list of thousands of entries, each up to the per-file limit, is an attack.
 */
const COMPOSITION_LIMITS = { files: 500, bytes: 2 * 1024 * 1024 } as const;


/** One config's content, merged at a package, in the order Hydra merges them. */
export interface MergeStep {
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

export function dotted(path: string): string {
  return path.replaceAll('/', '.');
}

export function dirname(path: string): string {
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
export interface ExternalChoice {
  input: HydraChoice;
  /** The override key it applies to ("model", "db@source"). */
  key: string;
  /** null turns the group off (`~key`). */
  value: string | string[] | null;
  /** `override`: changes an entry of the defaults lists; `append`: a new entry of the primary's (`+key=…`); `none`: nothing to do. */
  mode: 'override' | 'append' | 'none';
  used: boolean;
}

export class Composer {
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

const OPTION_NAME = /^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*(\/[A-Za-z0-9_+-][A-Za-z0-9_.+-]*)*$/;
const GROUP_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*(@[A-Za-z0-9_.]*)?$/;

// A file name is at most 255 bytes on the file systems projects live on; a path longer than this is no config there.
const MAX_NAME = { segment: 200, whole: 1000 } as const;

function tooLong(name: string): boolean {
  return name.length > MAX_NAME.whole || name.split('/').some((segment) => segment.length > MAX_NAME.segment);
}

export function externalChoice(input: HydraChoice): ExternalChoice {
  const field = `groups.${input.group}`;
  if (tooLong(input.group)) throw new ValidationError(field, `is longer than any config group can be (${MAX_NAME.segment} characters a folder)`);
  if (!GROUP_KEY.test(input.group)) throw new ValidationError(field, 'is not a config group (a path like model/encoder, with @package when the group is used more than once)');
  if (isHydraGroup(splitPackage(input.group)[0])) throw new ValidationError(field, "is one of Hydra's own groups, not the project's: set it in the typed overrides");
  const value = input.options ? input.options.map(withoutExtension) : input.option === null ? null : withoutExtension(input.option);
  for (const option of value === null ? [] : Array.isArray(value) ? value : [value]) {
    if (tooLong(option)) throw new ValidationError(field, `"${option.slice(0, 40)}…" is longer than any option can be (${MAX_NAME.segment} characters a name)`);
    if (!OPTION_NAME.test(option)) throw new ValidationError(field, `"${option}" is not an option name`);
  }
  return { input, key: input.group, value, mode: 'override', used: false };
}

export function overrideText(choice: ExternalChoice): string {
  if (choice.value === null) return `~${choice.key}`;
  const value = Array.isArray(choice.value) ? `[${choice.value.join(',')}]` : choice.value;
  return `${choice.mode === 'append' ? '+' : ''}${choice.key}=${value}`;
}
