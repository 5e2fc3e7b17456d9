// Issue 14's conformance suite: readHydraConfig against real Hydra 1.3.2 (test/hydra/oracle.py) on every primary of
// ../shared/fixtures/hydra and of our fixture project, with the defaults and with each group option chosen; and our
// override parser's verdicts against Hydra's OverridesParser on a hand-picked and a generated corpus. In CI a missing
// Hydra is a failure; elsewhere the suite skips, saying what it needs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readHydraConfig, type HydraChoice, type HydraConfig, type HydraGroup } from '../../server/projects/hydra/config.js';
import { isSweepOverride, parseOverride } from '../../server/projects/hydra/overrides.js';
import { apps, compare, primariesOf, type App } from './conformance.js';
import { oracleForBlock, realHydra } from './suite.js';
import { HYDRA_VERDICTS } from './override-corpus.js';

const hydra = realHydra('the Hydra conformance suite');

/** Primaries we decide not to compose, each with the reason and what the user gets instead. */
const UNSUPPORTED: Record<string, { reason: string; refusal: RegExp }> = {
  // Its db options extend `base_mysql`, a dataclass registered with Hydra's ConfigStore from Python code at import time.
  // The server reads configs and never runs project code, so it cannot know that schema; the form says which config it
  // could not find instead of composing something else.
  'hydra-examples/5.1_structured_config_schema_same_config_group: config': {
    reason: 'structured configs registered in Python (ConfigStore)',
    refusal: /could not load "db\/base_mysql": no conf\/db\/base_mysql\.yaml/,
  },
};

const cases: { label: string; app: App; primary: string | undefined }[] = hydra.ok
  ? apps().flatMap((app) => primariesOf(app.configDir).map((primary) => ({ label: `${app.name}: ${primary ?? '(no config_name)'}`, app, primary })))
  : [];

async function ours(app: App, primary: string | undefined, choices: HydraChoice[] = []): Promise<HydraConfig | Error> {
  try {
    return await readHydraConfig(app.repo, primary, choices);
  } catch (error) {
    return error as Error;
  }
}

/** The choices a user can make for one group: every other option (a few), turning it off, a list in another order. */
function choicesFor(group: HydraGroup): HydraChoice[] {
  const key = group.overrideKey;
  if (group.listValued) {
    const picked = group.default as string[];
    const others = group.options.filter((option) => !picked.includes(option)).slice(0, 1);
    return [{ group: key, option: null, options: [...picked].reverse() }, { group: key, option: null, options: [...picked, ...others] }];
  }
  const choices: HydraChoice[] = group.options.filter((option) => option !== group.default).slice(0, 3).map((option) => ({ group: key, option }));
  if (group.default !== null) choices.push({ group: key, option: null });
  return choices;
}

/** A choice as a Hydra command-line override, for a choice we refuse (an accepted one comes with groupOverrides). */
function overrideOf(group: HydraGroup, choice: HydraChoice): string {
  if (choice.options) return `${group.overrideKey}=[${choice.options.join(',')}]`;
  if (choice.option === null) return `~${group.overrideKey}`;
  const listed = group.default !== null || group.optional || group.required;
  return `${listed ? '' : '+'}${group.overrideKey}=${choice.option}`;
}

describe.skipIf(!hydra.ok)('readHydraConfig composes as Hydra 1.3.2 does', () => {
  const oracle = oracleForBlock();

  const compose = (app: App, primary: string | undefined, overrides: string[] = []) =>
    oracle().compose({ configDir: app.configDir, configName: primary, overrides, sysPath: [app.repo], entry: app.entry, versionBase: app.versionBase });

  it.each(cases)('$label: the defaults', async ({ label, app, primary }) => {
    const [theirs, mine] = await Promise.all([compose(app, primary), ours(app, primary)]);
    const unsupported = UNSUPPORTED[label];
    if (unsupported) {
      expect(theirs.ok).toBe(true);
      expect(mine).toBeInstanceOf(Error);
      expect((mine as Error).message).toMatch(unsupported.refusal);
      return;
    }
    const verdict = compare(theirs, mine, app.configDir);
    expect(verdict.notes, verdict.notes.join('\n')).toEqual(verdict.exact ? verdict.notes : []);
    expect(verdict.exact).toBe(true);
  });

  // The form's overrides (groupOverrides) go to Hydra as its command line: Hydra must compose what the form showed.
  it.each(cases.filter(({ label }) => !UNSUPPORTED[label]))('$label: each group choice the form offers', async ({ app, primary }) => {
    const defaults = await ours(app, primary);
    if (defaults instanceof Error) throw defaults;
    const mismatches: string[] = [];
    let tried = 0;
    for (const group of defaults.groups) {
      for (const choice of choicesFor(group)) {
        const mine = await ours(app, primary, [choice]);
        const label = `${choice.group}=${JSON.stringify(choice.options ?? choice.option)}`;
        if (mine instanceof Error) {
          // Refused: Hydra must refuse the same choice, written as the form would have written it.
          const theirs = await compose(app, primary, [overrideOf(group, choice)]);
          if (theirs.ok) mismatches.push(`${label}: we refuse (${mine.message}), Hydra composes ${overrideOf(group, choice)}`);
          continue;
        }
        tried++;
        const theirs = await compose(app, primary, mine.groupOverrides.map((entry) => entry.override));
        // An option that picks a Hydra plugin we do not vendor (hydra/sweeper: optuna) is Hydra's own business.
        if (!theirs.ok && /hydra\/(sweeper|launcher)/.test(theirs.error)) continue;
        const verdict = compare(theirs, mine, app.configDir);
        if (!verdict.exact) mismatches.push(`${label} (${mine.groupOverrides.map((entry) => entry.override).join(' ')}): ${verdict.notes.slice(0, 3).join('; ')}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Every app of the fixtures has groups but 3_using_config, whose one config has none.
    if (defaults.groups.some((group) => choicesFor(group).length > 0)) expect(tried).toBeGreaterThan(0);
  });
});

// Overrides shaped like the grammar, with the pieces where parsers part ways: prefixes, packages, quoting, escapes,
// nesting, functions and their arguments, interpolations, whitespace, and stray characters.
const piece = {
  prefix: fc.constantFrom('', '', '+', '++', '~', '~~', '+~'),
  key: fc.constantFrom('a', 'a.b', 'model/encoder', 'db@pkg', 'db@', 'x-y', '$x', 'a.0', '', '1a', 'a b', 'a.b.', '@x', 'hydra.run.dir'),
  value: fc.constantFrom(
    '1', '-1.5e3', 'inf', 'nan', 'true', 'null', '', 'abc', 'a b', 'a\\ b', 'a\\,b', '"q"', "'q'", '"un', "'x\\'y'", '[1,2]', '[]', '[a,[b,c]]', '{a:1}',
    '{a: [1, {b: 2}]}', '{}', '{1:2}', '1,2,3', 'a,', ',a', 'choice(1,2)', 'choice()', 'range(1,5)', 'range(1,5,0)', 'range(a,b)', 'interval(0,1)',
    'glob(*)', 'glob([a*],exclude=b)', 'sort(3,1,2)', 'sort(choice(3,1),reverse=true)', 'shuffle(1,2)', 'tag(a,choice(1,2))', 'int(1.5)', 'float(1)',
    'str(1)', 'bool(0)', 'json_str(1)', 'extend_list(1)', 'foo(1)', '${a}', '${oc.env:HOME}', '${a', 'x=y', 'a:b', '/path/to/f.txt', '(', ')', '[', ']',
    '{', '}', '=', '\\', ' padded ', 'tab\there', 'é', '#x', '%', '$(id)', '`id`', ';', '|', 'a${b}c',
  ),
};
const generated = fc.sample(
  fc.tuple(piece.prefix, piece.key, fc.boolean(), fc.array(piece.value, { minLength: 1, maxLength: 3 }), fc.constantFrom('', ',', ' ')).map(
    ([prefix, key, hasValue, values, joiner]) => `${prefix}${key}${hasValue ? `=${values.join(joiner)}` : ''}`,
  ),
  { numRuns: 600, seed: 14 },
);

// Overrides without a key (`~`, `=a`, `+@x=1`): Hydra's parser takes them and only its composition refuses them
// ("Could not override ''", "Could not delete '@x'"); we refuse them at once (see overrides.test.ts).
const DELIBERATE = (override: string) => /^(~|\+\+?)?(@[^=]*)?(=|$)/.test(override);

describe.skipIf(!hydra.ok)('parseOverride agrees with Hydra 1.3.2’s OverridesParser', () => {
  const oracle = oracleForBlock();

  it.each([
    ['the hand-picked corpus', HYDRA_VERDICTS.map(([override]) => override)],
    ['600 generated overrides', [...new Set(generated)]],
  ])('%s', async (_name, overrides) => {
    const verdicts = await oracle().parse(overrides);
    const disagreements: string[] = [];
    for (const verdict of verdicts) {
      if (DELIBERATE(verdict.override)) continue;
      let mine: ReturnType<typeof parseOverride> | Error;
      try {
        mine = parseOverride(verdict.override);
      } catch (error) {
        mine = error as Error;
      }
      if (verdict.ok !== !(mine instanceof Error)) {
        disagreements.push(`${JSON.stringify(verdict.override)}: Hydra ${verdict.ok ? 'accepts' : `refuses (${verdict.error.split('\n')[0]})`}, we ${mine instanceof Error ? `refuse (${mine.message})` : 'accept'}`);
      } else if (verdict.ok && !(mine instanceof Error)) {
        const key = mine.package === null ? mine.key : `${mine.key}@${mine.package}`;
        const theirs = verdict.package === null ? verdict.key : `${verdict.key}@${verdict.package}`;
        const type = { '': 'CHANGE', '+': 'ADD', '++': 'FORCE_ADD', '~': 'DEL' }[mine.prefix];
        if (key !== theirs || type !== verdict.overrideType) disagreements.push(`${JSON.stringify(verdict.override)}: Hydra ${verdict.overrideType} ${theirs}, we ${type} ${key}`);
        // A single launch refuses what Hydra would only run in a multirun (issue 15).
        if (isSweepOverride(mine) !== verdict.isSweep) disagreements.push(`${JSON.stringify(verdict.override)}: Hydra ${verdict.isSweep ? 'sweeps' : 'takes one value'}, we ${isSweepOverride(mine) ? 'sweep' : 'take one value'}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(verdicts.length).toBe(overrides.length);
  });
});
