// How many real primaries our Hydra reader composes exactly as Hydra 1.3.2 does: every top-level .yaml of every app in
// ../shared/fixtures/hydra and of test/fixtures/ml-project/conf, composed by real Hydra (test/hydra/oracle.ts) and by
// readHydraConfig, compared on the group choices and on every leaf value (Hydra's own `hydra` node aside).
// A script, not a test: `node --import tsx test/hydra/conformance-report.ts` prints a table and the count.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { readHydraConfig, type HydraConfig } from '../../server/projects/hydra/config.js';
import { available, flattenConfig, HydraOracle, type ComposeResult } from './oracle.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = resolve(REPO, '../shared/fixtures/hydra');
const MAX_DIFFERENCES = 4;

interface App {
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

function apps(): App[] {
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

function primariesOf(configDir: string): (string | undefined)[] {
  const names = readdirSync(configDir)
    .filter((file) => file.endsWith('.yaml') && !file.startsWith('.') && statSync(join(configDir, file)).isFile())
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort();
  // An app whose @hydra.main names no config_name composes from its config directory alone.
  return names.length > 0 ? names : [undefined];
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function oneLine(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}

/** What Hydra loaded from group `group` when its choices do not say (a multi-valued default: `site: [fb, google]`). */
function loadedOptions(hydra: Extract<ComposeResult, { ok: true }>, group: string): string[] {
  return hydra.defaults
    .filter((d) => d.config_path !== null && !d.primary && d.config_path.startsWith(`${group}/`) && !d.config_path.slice(group.length + 1).includes('/'))
    .map((d) => (d.config_path as string).slice(group.length + 1));
}

function differences(hydra: Extract<ComposeResult, { ok: true }>, ours: HydraConfig, configDir: string, notCounted: string[]): string[] {
  const out: string[] = [];
  // Hydra's own groups (hydra/launcher…) are Hydra's business; readHydraConfig leaves hydra/ out on purpose.
  const hydraChoices = Object.entries(hydra.choices).filter(([key]) => key !== 'hydra' && !key.startsWith('hydra/'));
  const matched = new Set<string>();
  for (const [key, choice] of hydraChoices) {
    const group = ours.groups.find((g) => g.overrideKey === key) ?? ours.groups.find((g) => g.path === key && !matched.has(g.path));
    if (!group) {
      // `optional local: default` with no local/default.yaml: Hydra records the choice and loads nothing; a folder
      // without options is not a group for the form (issue 14, point 3), so this is not counted against us.
      const groupPath = key.split('@')[0] ?? key;
      if (typeof choice === 'string' && !existsSync(join(configDir, groupPath, `${choice}.yaml`))) {
        notCounted.push(`choice ${key}: Hydra ${show(choice)} (optional, no such file: nothing loaded), ours has no such group`);
        continue;
      }
      out.push(`choice ${key}: Hydra ${show(choice)}, ours has no such group`);
      continue;
    }
    matched.add(group.path);
    if (!isDeepStrictEqual(group.default, choice)) out.push(`choice ${key}: Hydra ${show(choice)}, ours ${show(group.default)}`);
  }
  for (const group of ours.groups) {
    if (matched.has(group.path) || group.default === null) continue;
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

interface Row {
  primary: string;
  hydra: string;
  ours: string;
  exact: boolean;
  notes: string[];
}

async function main(): Promise<void> {
  const state = available();
  if (!state.ok) {
    console.error(`conformance report skipped: ${state.reason}`);
    process.exit(2);
  }
  const oracle = new HydraOracle();
  const rows: Row[] = [];
  for (const app of apps()) {
    for (const primary of primariesOf(app.configDir)) {
      const label = `${app.name}: ${primary ?? '(no config_name)'}`;
      const hydra = await oracle.compose({ configDir: app.configDir, configName: primary, sysPath: [app.repo], entry: app.entry, versionBase: app.versionBase });
      let ours: HydraConfig | Error;
      try {
        ours = await readHydraConfig(app.repo, primary);
      } catch (error) {
        ours = error as Error;
      }
      const row: Row = { primary: label, hydra: hydra.ok ? 'ok' : `error: ${oneLine(hydra.error)}`, ours: ours instanceof Error ? `error: ${oneLine(ours.message)}` : 'ok', exact: false, notes: [] };
      if (hydra.ok && !(ours instanceof Error)) {
        const notCounted: string[] = [];
        const found = differences(hydra, ours, app.configDir, notCounted);
        row.exact = found.length === 0;
        row.notes = found.length > MAX_DIFFERENCES ? [...found.slice(0, MAX_DIFFERENCES), `… ${found.length} differences in all`] : found;
        row.notes.push(...notCounted.map((note) => `(not counted) ${note}`));
      } else if (!hydra.ok && ours instanceof Error) {
        // Both refuse: the form would stop the user before the queue, as Hydra would.
        row.exact = true;
        row.notes = ['both refuse'];
      } else if (!hydra.ok) {
        row.notes = [`Hydra refuses it without overrides; we compose it without flagging (a launch would fail in the job)`];
      } else {
        row.notes = ['Hydra composes it; we refuse'];
      }
      rows.push(row);
    }
  }
  await oracle.close();

  for (const row of rows) {
    console.log(`\n${row.exact ? 'MATCH   ' : 'MISMATCH'} ${row.primary}`);
    console.log(`  Hydra: ${row.hydra}`);
    console.log(`  ours:  ${row.ours}`);
    for (const note of row.notes) console.log(`    - ${note}`);
  }
  const exact = rows.filter((row) => row.exact).length;
  console.log(`\n${exact} of ${rows.length} primaries compose exactly as Hydra composes them (fixtures: ${relative(REPO, FIXTURES)}, test/fixtures/ml-project).`);
  process.exit(0);
}

await main();
