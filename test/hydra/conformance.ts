// What readHydraConfig is compared with real Hydra 1.3.2 on: every top-level .yaml of every app in
// ../shared/fixtures/hydra and of test/fixtures/ml-project/conf, and how two compositions are compared (group choices
// and every leaf value, Hydra's own `hydra` node aside). Used by conformance.test.ts and conformance-report.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { HydraConfig } from '../../server/projects/hydra/config.js';
import { flattenConfig, type ComposeResult } from './oracle.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = resolve(REPO, '../shared/fixtures/hydra');

export interface App {
  name: string;
  /** What readHydraConfig is given: the project's root. */
  repo: string;
  /** Absolute: the config_path Hydra is given. */
  configDir: string;
  entry?: string;
  versionBase: string | null;
}

/** config_path and version_base as the entry script's @hydra.main(...) gives them. */
function fromEntryScript(appDir: string, script: string): { configPath: string; versionBase: string | null } {
  const text = readFileSync(join(appDir, script), 'utf8');
  const call = /@hydra\.main\(([^)]*)\)/.exec(text)?.[1] ?? '';
  const configPath = /config_path\s*=\s*["']([^"']*)["']/.exec(call)?.[1] ?? '.';
  const versionBase = /version_base\s*=\s*["']([^"']*)["']/.exec(call)?.[1] ?? null;
  return { configPath, versionBase };
}

export function apps(): App[] {
  const found: App[] = [
    { name: 'lightning-hydra-template', repo: join(FIXTURES, 'lightning-hydra-template'), configDir: join(FIXTURES, 'lightning-hydra-template/configs'), versionBase: '1.3' },
  ];
  const examples = join(FIXTURES, 'hydra-examples');
  for (const name of readdirSync(examples).sort()) {
    const appDir = join(examples, name);
    if (!statSync(appDir).isDirectory()) continue;
    const settings = parseYaml(readFileSync(join(appDir, '.mlops-config.yaml'), 'utf8')) as { train_script: string };
    const { configPath, versionBase } = fromEntryScript(appDir, settings.train_script);
    // Imported only for its structured configs: importing a script that has none would only add its imports' needs
    // (3_using_config imports pytest) to the oracle's.
    const entry = join(appDir, settings.train_script);
    const registers = readFileSync(entry, 'utf8').includes('ConfigStore');
    found.push({ name: `hydra-examples/${name}`, repo: appDir, configDir: resolve(appDir, configPath), entry: registers ? entry : undefined, versionBase });
  }
  const ours = join(REPO, 'test/fixtures/ml-project');
  found.push({ name: 'ml-project (ours)', repo: ours, configDir: join(ours, 'conf'), versionBase: '1.3' });
  return found;
}

export function primariesOf(configDir: string): (string | undefined)[] {
  const names = readdirSync(configDir)
    .filter((file) => file.endsWith('.yaml') && !file.startsWith('.') && statSync(join(configDir, file)).isFile())
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort();
  // An app whose @hydra.main names no config_name composes from its config directory alone.
  return names.length > 0 ? names : [undefined];
}

export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function oneLine(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}

/** What Hydra loaded from group `group` when its choices do not say (a multi-valued default: `site: [fb, google]`). */
function loadedOptions(hydra: Extract<ComposeResult, { ok: true }>, group: string): string[] {
  return hydra.defaults
    .filter((d) => d.config_path !== null && !d.primary && d.config_path.startsWith(`${group}/`) && !d.config_path.slice(group.length + 1).includes('/'))
    .map((d) => (d.config_path as string).slice(group.length + 1))
    // A config listed twice (multi-select with +server=apache) is merged twice, to the same values.
    .filter((option, index, all) => all.indexOf(option) === index);
}

export function differences(hydra: Extract<ComposeResult, { ok: true }>, ours: HydraConfig, configDir: string, notCounted: string[]): string[] {
  const out: string[] = [];
  // Hydra's own groups (hydra/launcher…) are Hydra's business; readHydraConfig leaves hydra/ out on purpose.
  const hydraChoices = Object.entries(hydra.choices).filter(([key]) => key !== 'hydra' && !key.startsWith('hydra/'));
  const matched = new Set<string>();
  for (const [key, choice] of hydraChoices) {
    const group = ours.groups.find((g) => g.overrideKey === key) ?? ours.groups.find((g) => g.path === key && !matched.has(g.overrideKey));
    const groupPath = key.split('@')[0] ?? key;
    const nothingLoaded = typeof choice === 'string' && !existsSync(join(configDir, groupPath, `${choice}.yaml`));
    if (!group) {
      // `optional local: default` with no local/default.yaml: Hydra records the choice and loads nothing; a folder
      // without options is not a group for the form (issue 14, point 3), so this is not counted against us.
      if (nothingLoaded) {
        notCounted.push(`choice ${key}: Hydra ${show(choice)} (optional, no such file: nothing loaded), ours has no such group`);
        continue;
      }
      out.push(`choice ${key}: Hydra ${show(choice)}, ours has no such group`);
      continue;
    }
    matched.add(group.overrideKey);
    // `optional server_db: ${server}_${db}` naming no file: Hydra records the name and loads nothing; the form shows
    // the group as not chosen (its options are the files there are), which loads the same nothing.
    if (nothingLoaded && group.default === null && group.optional) {
      notCounted.push(`choice ${key}: Hydra ${show(choice)} (optional, no such file: nothing loaded), ours not chosen`);
      continue;
    }
    if (!isDeepStrictEqual(group.default, choice)) out.push(`choice ${key}: Hydra ${show(choice)}, ours ${show(group.default)}`);
  }
  for (const group of ours.groups) {
    if (matched.has(group.overrideKey) || group.default === null) continue;
    const loaded = loadedOptions(hydra, group.path);
    const theirs = loaded.length === 0 ? null : Array.isArray(group.default) ? loaded : loaded.length === 1 ? loaded[0] : loaded;
    if (!isDeepStrictEqual(group.default, theirs)) out.push(`choice ${group.overrideKey}: ours ${show(group.default)}, Hydra loads ${show(theirs)}`);
  }
  const theirs = flattenConfig(hydra.config);
  const mine = new Map(ours.parameters.map((p) => [p.path, p.default]));
  for (const [path, value] of theirs) {
    if (!mine.has(path)) out.push(`${path}: Hydra ${show(value)}, missing in ours`);
    else if (!isDeepStrictEqual(mine.get(path), value)) out.push(`${path}: Hydra ${show(value)}, ours ${show(mine.get(path))}`);
  }
  for (const [path, value] of mine) if (!theirs.has(path)) out.push(`${path}: ours ${show(value)}, not in Hydra's config`);
  return out;
}


export interface Verdict {
  exact: boolean;
  notes: string[];
  notCounted: string[];
}

/** Whether ours composes as Hydra does; both refusing counts as agreeing (the user is stopped before the queue). */
export function compare(hydra: ComposeResult, ours: HydraConfig | Error, configDir: string): Verdict {
  const notCounted: string[] = [];
  if (hydra.ok && !(ours instanceof Error)) {
    const notes = differences(hydra, ours, configDir, notCounted);
    return { exact: notes.length === 0, notes, notCounted };
  }
  if (!hydra.ok && ours instanceof Error) return { exact: true, notes: [`both refuse: Hydra "${oneLine(hydra.error)}", ours "${oneLine(ours.message)}"`], notCounted };
  if (!hydra.ok) {
    // "You must specify 'db'": the form marks the group required and the preview refuses the launch (buildHydraArgs).
    const required = ours instanceof Error ? [] : ours.groups.filter((group) => group.required).map((group) => group.overrideKey);
    if (required.some((key) => hydra.error.includes(`You must specify '${key}'`))) {
      return { exact: true, notes: [`both refuse a launch as it is: Hydra "${oneLine(hydra.error)}", ours marks ${required.join(', ')} required`], notCounted };
    }
    return { exact: false, notes: [`Hydra refuses it ("${oneLine(hydra.error)}"); we compose it without flagging (a launch would fail in the job)`], notCounted };
  }
  return { exact: false, notes: [`Hydra composes it; we refuse: ${oneLine((ours as Error).message)}`], notCounted };
}
