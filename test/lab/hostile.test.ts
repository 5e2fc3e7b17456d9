// Hostile input against the real server and the real lab: a corpus of values built to run a command, inject an option
// or break out of a quote goes through every API field whose value can reach the cluster. Each value tries to create
// its own canary file; none may exist afterwards, on the lab or here. Every refusal must be a typed error naming its
// field; every value accepted as data must arrive verbatim (in the stored input, in the script's argv as a real shell
// reads it, and in what the training program printed on the cluster).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatOverride, parseHydraValue, parseOverride, parseOverrides } from '../../server/projects/hydra/overrides.js';
import { startServer } from '../../server/main.js';
import { authHeaders, createTestToken } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab hostile-input suite');

const RUN = `${process.pid}-${randomBytes(4).toString('hex')}`;
const CANARY_PREFIX = `/tmp/mc-canary-hostile-${RUN}`;
const C = '\u27e8C\u27e9'; // stands for the value's own canary path in the templates below

// Each template becomes one value whose canary is `${CANARY_PREFIX}-<index>`, so a canary that appears names the value.
const TEMPLATES: string[] = [
  // shell metacharacters and command substitution
  `;touch ${C}`, `; touch ${C}`, `;touch ${C};`, `| touch ${C}`, `|touch ${C}`, `||touch ${C}`, `&&touch ${C}`, `& touch ${C} &`,
  `&touch ${C}`, `>${C}`, `>>${C}`, `<${C}`, `2>${C}`, `>|${C}`, `&>${C}`, `$(touch ${C})`, `$( touch ${C} )`, `\`touch ${C}\``,
  `\${IFS}touch\${IFS}${C}`, `$IFS;touch ${C}`, `a$(touch ${C})b`, `"$(touch ${C})"`, `'$(touch ${C})'`, `'; touch ${C}; '`,
  `"; touch ${C}; "`, `'"; touch ${C}; #`, `\\; touch ${C}`, `\\$(touch ${C})`, `$'\\x3b' touch ${C}`, `$((1+1))$(touch ${C})`,
  `!$ ; touch ${C}`, `(touch ${C})`, `{touch,${C}}`, `{ touch ${C}; }`, `touch ${C} #`, `#$(touch ${C})`, `eval touch ${C}`,
  `exec touch ${C}`, `. ${C}`, `x=1 touch ${C}`, `<(touch ${C})`, `>(touch ${C})`, `$(<${C})`, `a&&b||touch ${C}`,
  // line breaks and other control characters
  `a\ntouch ${C}`, `\ntouch ${C}\n`, `a\rtouch ${C}`, `a\r\ntouch ${C}`, `a\ttouch\t${C}`, `a\0touch ${C}`, `\0`, `a\vtouch ${C}`,
  `a\ftouch ${C}`, `\x1b]0;touch ${C}\x07`, `\x1b[31mred\x1b[0m`, `a\x7ftouch ${C}`, `a\btouch ${C}`, `gpu\n#SBATCH --wrap=touch ${C}`,
  `1G\n#SBATCH --output=${C}`, `seed=1\ntouch ${C}`, `\r`, `\n`, `\t`,
  // unicode look-alikes and invisible characters
  `\uff1btouch ${C}`, `\uff5ctouch ${C}`, `\uff06touch ${C}`, `\uff04(touch ${C})`, `\uff40touch ${C}\uff40`, `a\u2028touch ${C}`,
  `a\u2029touch ${C}`, `a\u0085touch ${C}`, `\u202etouch ${C}`, `\u202dtouch ${C}`, `\u2066touch ${C}\u2069`, `a\u200btouch ${C}`,
  `\u200c\u200d`, `\ufefftouch ${C}`, `a\u00a0touch ${C}`, `a\u3000touch ${C}`, `\uff54\uff4f\uff55\uff43\uff48 ${C}`,
  '\u0441pu', 'g\u0440u', 'a100\u0301', 'e\u0301t\u00e9', `\ud83d\ude80$(touch ${C})`, `\uff0d\uff0dwrap=touch ${C}`,
  `\u2010-wrap=touch ${C}`, `\u2212o ${C}`, `\u2013\u2013output=${C}`, `\u02bc$(touch ${C})\u02bc`, `\u2018$(touch ${C})\u2019`,
  `\u201c$(touch ${C})\u201d`, '\u00abx\u00bb', '\u201ex\u201c', '\uff1d1', 'x\uff1d1', '\u0661\u0662', '\uff11G',
  // option injection
  `--wrap=touch ${C}`, `--wrap touch ${C}`, `-wrap=touch ${C}`, `--wrap='touch ${C}'`, `-o ${C}`, `-o${C}`, `--output=${C}`,
  `--error=${C}`, `-e ${C}`, '--chdir=/tmp', '-D /tmp', '--uid=0', `--export=ALL,BASH_ENV=${C}`, `--export=LD_PRELOAD=${C}`,
  '--get-user-env', '--partition=cpu', `-p cpu --wrap=touch ${C}`, '--', '-', '-h', '--help', '--version', `--upload-pack=touch ${C}`,
  `--exec=touch ${C}`, `-c core.sshCommand=touch ${C}`, `--config=core.fsmonitor=touch ${C}`, '-u', '--multirun', '-m',
  '--cfg=job', '--config-dir=/tmp', '--config-name=../../x', '--run', '--shell-completion', '-cn x', '--info',
  `gpu --wrap=touch ${C}`, `gpu -o ${C}`, `5:00 --wrap=touch ${C}`, `-1`, '--mem=1', '-N 100', '--array=0-100000',
  // globs, paths, tildes
  '*', '?', '[a-z]*', '/*', '/tmp/*', '**/*', '{a,b}', '~', '~/', '~root', '..', '../../etc/passwd', '/etc/passwd', '.',
  `${C}*`, '/', '//', '/dev/null', '/proc/self/environ', './x', 'x/../../y',
  // quotes of every kind
  "'", '"', '`', "''", '""', `'"'"'`, "'\\''", "\\'", '\\"', '"\\"', "'''", '"""', "x'y", 'x"y', `'$(touch ${C})`, `"$(touch ${C})`,
  '\\', '\\\\', `\\\n touch ${C}`,
  // %-escapes, format strings, template placeholders, variables
  '%s', '%n', '%x%x%x', '%j', '%u', '%A_%a', '%N', '%%', '%0a', '%00', `%3Btouch%20${C}`, `%0atouch%20${C}`, `%24(touch%20${C})`,
  '%(x)s', '{0}', '{{directives}}', `{{command}}; touch ${C}`, '{{tag}}', '${HOME}', '$HOME', '$0', '$@', '$*', '$$', '$?', '$1',
  // YAML, OmegaConf and Hydra specials
  '${oc.env:HOME}', '${oc.env:PATH,x}', '${now:%Y-%m-%d}', '${hydra:runtime.cwd}', '${oc.create:{a:1}}', "${oc.decode:'1'}",
  `\${python.eval:__import__('os').system('touch ${C}')}`, 'key: value', '- item', '[a, b]', '{a: 1}',
  `!!python/object/apply:os.system ["touch ${C}"]`, '&anchor x', '*alias', '|', '>-', '? x', '@x', '+x=1', '++x=1', '~x', 'x=1',
  `x=$(touch ${C})`, `x='$(touch ${C})'`, `hydra.run.dir=${C}`, 'hydra/launcher=basic', 'hydra.job.chdir=true', 'x=choice(1,2)',
  'x=range(1,100000000)', 'x=glob(*)', 'x=[${oc.env:HOME}]', '+hydra.callbacks.x._target_=os.system', 'a b=c', '=x', 'x=',
  "'x'=1", `model=vit seed=1 ; touch ${C}`, '---', '...', 'null', 'true', '.inf', '0x10', '1e999', 'NaN', '-0',
  `seed=1 --wrap=touch ${C}`, `+run_note=x\` touch ${C}\``,
  // SQL
  "' OR '1'='1", '1; DROP TABLE job; --', "\\' OR 1=1 --", '%_%',
];

const LONG = 100_000;
const longValues = (canary: () => string): string[] => [
  'a'.repeat(LONG),
  `$(touch ${canary()})`.repeat(Math.ceil(LONG / 45)).slice(0, LONG),
  '\u00e9'.repeat(LONG / 2),
  `${'a'.repeat(LONG - 20)};touch ${canary()}`,
  `${'a'.repeat(LONG)}\n`,
  '['.repeat(LONG),
  'x'.repeat(65),
  'y'.repeat(2001),
  '\n'.repeat(1000),
  `+run_note='${'z'.repeat(LONG)}'`,
];

function buildCorpus(): { values: string[]; canaries: string[] } {
  const canaries: string[] = [];
  const canary = () => {
    canaries.push(`${CANARY_PREFIX}-${canaries.length}`);
    return canaries[canaries.length - 1]!;
  };
  const values = TEMPLATES.map((template) => (template.includes(C) ? template.replaceAll(C, canary()) : template));
  return { values: [...new Set([...values, ...longValues(canary)])], canaries };
}

const { values: CORPUS } = buildCorpus();
const isLong = (value: string) => value.length > 5_000;

const INERT = /^[A-Za-z0-9][A-Za-z0-9._+:-]*$/;

const END_OF_ARGV = '\u0001'; // a control character, which no accepted value or override contains

/**
 * argv of the training command of each rendered script, as a real shell reads it: one shell for all of them, the
 * text on stdin (one argument may exceed what `sh -c` takes), run asynchronously so the in-process server keeps
 * serving meanwhile.
 */
async function commandArgvs(scripts: string[]): Promise<string[][]> {
  const lines = scripts.map((script) => {
    const command = /^((?:srun )?python3 train\.py[\s\S]*?) &\nmc_pid=\$!$/m.exec(script)?.[1];
    if (!command) throw new Error(`no training command in the script:\n${script.slice(-3000)}`);
    return `printf '%s\\0' ${command} '${END_OF_ARGV}'`;
  });
  const shell = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  shell.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => shell.on('close', resolve));
  shell.stdin.end(`${lines.join('\n')}\n`);
  expect(await exited, stderr).toBe(0);
  const argvs: string[][] = [[]];
  for (const arg of Buffer.concat(chunks).toString('utf8').split('\0').slice(0, -1)) {
    if (arg === END_OF_ARGV) argvs.push([]);
    else argvs[argvs.length - 1]!.push(arg);
  }
  argvs.pop();
  expect(argvs).toHaveLength(scripts.length);
  return argvs;
}

const commandArgv = async (script: string) => (await commandArgvs([script]))[0]!;

/** The value of the override for `key` in argv, as Hydra reads it. */
function overrideValue(argv: string[], key: string): unknown {
  const token = argv.find((arg) => arg.startsWith('-') === false && arg.includes('=') && parseOverride(arg).key === key);
  if (token === undefined) throw new Error(`no override of ${key} in ${JSON.stringify(argv).slice(0, 500)}`);
  return parseHydraValue(parseOverride(token).value ?? '');
}

interface Outcome {
  __typename: string;
  field?: string;
  message?: string;
  data?: { script?: string; id?: number };
}

interface FieldCase {
  /** How the value goes into the request. */
  input?: (value: string) => Record<string, unknown>;
  tag?: (value: string) => string;
  /** The field a ValidationError must name. */
  field: (value: string) => string;
  /** Another typed error that may refuse it instead (its message checked). */
  otherError?: { typename: string; message: RegExp };
  /** What an accepted value must look like in the script. */
  accepted?: (value: string, script: string, argv: string[]) => void;
}

const directive = (name: string) => (value: string, script: string) => {
  expect(value).toMatch(INERT);
  expect(script).toContain(`#SBATCH --${name}=${value}\n`);
};

const FIELD_CASES: Record<string, FieldCase> = {
  name: { input: (value) => ({ name: value }), field: () => 'name', accepted: directive('job-name') },
  description: {
    input: (value) => ({ description: value }),
    field: () => 'description',
    // What reaches the command line is the description's slug (letters, digits, . _ + -), never the text itself.
    accepted: (value, _script, argv) => {
      if (argv.some((arg) => arg.startsWith('experiment_suffix='))) expect(overrideValue(argv, 'experiment_suffix')).toMatch(/^[a-z0-9._+-]*$/);
      else expect(value.trim()).toBe('');
    },
  },
  partition: { input: (value) => ({ partition: value }), field: () => 'partition', accepted: directive('partition') },
  account: { input: (value) => ({ account: value }), field: () => 'account', accepted: directive('account') },
  qos: { input: (value) => ({ qos: value }), field: () => 'qos', accepted: directive('qos') },
  gpuType: {
    input: (value) => ({ gpuType: value, gpusPerNode: 1 }),
    field: () => 'gpuType',
    accepted: (value, script) => {
      expect(value).toMatch(INERT);
      expect(script).toContain(`#SBATCH --gres=gpu:${value}:1\n`);
    },
  },
  // Empty is "the partition's default": no directive at all.
  memory: { input: (value) => ({ memory: value }), field: () => 'memory', accepted: (value, script) => expect(script).toMatch(value === '' ? /^(?![\s\S]*^#SBATCH --mem=)/m : /^#SBATCH --mem=\d+[KMGT]?$/m) },
  timeLimit: { input: (value) => ({ timeLimit: value }), field: () => 'timeLimit', accepted: (value, script) => expect(script).toMatch(value === '' ? /^(?![\s\S]*^#SBATCH --time=)/m : /^#SBATCH --time=[\d:-]+$/m) },
  cluster: { input: (value) => ({ cluster: value }), field: () => 'cluster' },
  primary: { input: (value) => ({ primary: value }), field: () => 'primary', otherError: { typename: 'HydraConfigError', message: /no primary config/ } },
  tag: { tag: (value) => value, field: () => 'tag' },
  rawOverrides: {
    input: (value) => ({ rawOverrides: value }),
    field: () => 'rawOverrides',
    accepted: (value, _script, argv) => {
      const expected = parseOverrides(value).map(formatOverride);
      expect(argv.slice(argv.length - expected.length)).toEqual(expected);
    },
  },
  'rawOverrides (quoted as a Hydra string)': {
    input: (value) => ({ rawOverrides: `+run_note='${value}'` }),
    field: () => 'rawOverrides',
    accepted: (value, _script, argv) => expect(overrideValue(argv, 'run_note')).toBe(parseHydraValue(`'${value}'`)),
  },
  'groups (group)': { input: (value) => ({ groups: [{ group: value, option: 'vit' }] }), field: (value) => `groups.${value}` },
  'groups (option)': { input: (value) => ({ groups: [{ group: 'model', option: value }] }), field: () => 'groups.model' },
  'parameters (path)': {
    // Added (`+key=1`), so a path the config lacks is judged on its spelling alone.
    input: (value) => ({ parameters: [{ path: value, value: 1, add: true }] }),
    field: (value) => `parameters.${value}`,
    // A few corpus values ("null", "true") are plain config keys.
    accepted: (value, _script, argv) => expect(overrideValue(argv, value)).toBe(1),
  },
  'parameters (string value)': {
    // run_note is not in the fixture's config: added on purpose (`+run_note=…`), as the form adds a key.
    input: (value) => ({ parameters: [{ path: 'run_note', value, add: true }] }),
    field: () => 'parameters.run_note',
    accepted: (value, _script, argv) => expect(overrideValue(argv, 'run_note')).toBe(value),
  },
  'parameters (list item)': {
    input: (value) => ({ parameters: [{ path: 'tags', value: [value, 'x'] }] }),
    field: () => 'parameters.tags',
    accepted: (value, _script, argv) => expect(overrideValue(argv, 'tags')).toEqual([value, 'x']),
  },
  'parameters (mapping key and value)': {
    input: (value) => ({ parameters: [{ path: 'run_note', value: { [value]: value }, add: true }] }),
    field: () => 'parameters.run_note',
    accepted: (value, _script, argv) => expect(overrideValue(argv, 'run_note')).toEqual({ [value]: value }),
  },
};

describe.skipIf(!lab)('hostile input against the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let token: string;
  let projectId: number;
  const baseInput = () => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1 });
  /** Values each field accepted in the preview, for the real submissions. */
  const acceptedBy = new Map<string, string[]>();
  const started = Date.now();

  async function post(query: string, variables: Record<string, unknown> = {}): Promise<{ data?: any; errors?: Array<{ message: string; path?: Array<string | number> }> }> {
    const response = await fetch(`${running.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as object;
  }

  /** Runs one aliased field per value, several values per request (long ones alone), and returns the results in order. */
  async function batched(values: unknown[], operation: 'query' | 'mutation', variableTypes: string, field: (index: number) => string, selection: string, variables: (value: any, index: number) => Record<string, unknown>): Promise<Outcome[]> {
    const results: Outcome[] = [];
    let batch: Array<{ value: unknown; index: number }> = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const declared = batch.map(({ index }) => variableTypes.replaceAll('#', String(index))).join(', ');
      const fields = batch.map(({ index }) => `a${index}: ${field(index)} { ${selection} }`).join('\n');
      const answer = await post(`${operation}(${declared}) {\n${fields}\n}`, Object.assign({}, ...batch.map(({ value, index }) => variables(value, index))));
      // Any error here is an untyped one (masked as "Unexpected error."): name the field and value it came from.
      const failed = answer.errors?.map((error) => {
        const index = Number(String(error.path?.[0] ?? '').slice(1));
        return `${error.message} (${field(index)} ← ${JSON.stringify(values[index])?.slice(0, 200)})`;
      });
      expect(failed).toBeUndefined();
      for (const { index } of batch) results[index] = answer.data[`a${index}`];
      batch = [];
    };
    for (const [index, value] of values.entries()) {
      const long = typeof value === 'string' ? isLong(value) : JSON.stringify(value).length > 5_000;
      if (long) await flush();
      batch.push({ value, index });
      if (long || batch.length >= 10) await flush();
    }
    await flush();
    return results;
  }

  const OUTCOME = (success: string) => `__typename ... on ${success} { data { ${success.includes('Preview') ? 'script' : 'id'} } } ... on ValidationError { field message } ... on Error { message }`;

  function expectRefusal(name: string, spec: FieldCase, value: string, outcome: Outcome): void {
    const context = `${name} ← ${JSON.stringify(value).slice(0, 200)}: ${JSON.stringify(outcome).slice(0, 400)}`;
    if (spec.otherError && outcome.__typename === spec.otherError.typename) {
      expect(outcome.message, context).toMatch(spec.otherError.message);
      return;
    }
    expect(outcome.__typename, context).toBe('ValidationError');
    expect(outcome.field, context).toBe(spec.field(value));
  }

  async function jobCount(): Promise<number> {
    const answer = await post('{ jobs(first: 200) { nodes { id } } }');
    return answer.data.jobs.nodes.length;
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-hostile-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services);
    const added = await post('mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }', { path: repo.work });
    projectId = added.data.addProject.data.id;
  });

  afterAll(async () => {
    await running?.stop();
    const accepted = [...acceptedBy].map(([name, values]) => `${name} ${values.length}`).join(', ');
    console.log(`hostile-input suite: ${CORPUS.length} values, ${((Date.now() - started) / 1000).toFixed(1)} s; accepted as data: ${accepted}`);
  });

  it('has a corpus of at least 200 distinct hostile values', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(200);
    expect(CORPUS.filter(isLong).length).toBeGreaterThanOrEqual(5);
  });

  let jobsBefore = 0;
  it('has no job yet', async () => {
    jobsBefore = await jobCount();
  });

  // Previewed first; what the preview refuses is then sent to submitJob, which must refuse it the same way before
  // storing anything (what the preview accepts is submitted for real, in a few jobs, further down).
  it.each(Object.entries(FIELD_CASES))('JobInput %s: refused naming the field, or inert and verbatim in the script', async (name, spec) => {
    const request = (value: string, index: number) => ({ [`i${index}`]: { ...baseInput(), ...spec.input?.(value) }, [`t${index}`]: spec.tag?.(value) ?? null });
    const previews = await batched(CORPUS, 'query', '$i#: JobInput!, $t#: String', (index) => `previewScript(input: $i${index}, tag: $t${index})`, OUTCOME('QueryPreviewScriptSuccess'), request);
    const refused = CORPUS.filter((value, index) => previews[index]!.__typename !== 'QueryPreviewScriptSuccess');
    refused.forEach((value) => expectRefusal(name, spec, value, previews[CORPUS.indexOf(value)]!));
    const accepted = CORPUS.filter((value) => !refused.includes(value));
    const scripts = accepted.map((value) => previews[CORPUS.indexOf(value)]!.data!.script!);
    const argvs = await commandArgvs(scripts);
    accepted.forEach((value, index) => {
      expect(spec.accepted, `${name} accepted ${JSON.stringify(value).slice(0, 200)}`).toBeDefined();
      spec.accepted!(value, scripts[index]!, argvs[index]!);
    });
    acceptedBy.set(name, accepted);
    const submitted = await batched(refused, 'mutation', '$i#: JobInput!, $t#: String', (index) => `submitJob(input: $i${index}, tag: $t${index})`, OUTCOME('MutationSubmitJobSuccess'), request);
    refused.forEach((value, index) => expectRefusal(`${name} (submitJob)`, spec, value, submitted[index]!));
  });

  it('stored no job for any refused value, and saw values accepted as data', async () => {
    expect(await jobCount()).toBe(jobsBefore);
    // Some values are legitimately data (descriptions, Hydra strings): both paths were exercised.
    expect(acceptedBy.get('description')!.length).toBeGreaterThan(100);
    expect(acceptedBy.get('parameters (string value)')!.length).toBeGreaterThan(100);
  });

  it('refuses hostile text in the whole-number fields with GraphQL errors naming the variable', async () => {
    const sample = CORPUS.filter((value) => !isLong(value)).filter((_, index) => index % 10 === 0);
    for (const field of ['nodes', 'gpusPerNode', 'cpusPerTask', 'projectId', 'parentJobId']) {
      for (const value of [...sample, 2 ** 31, 1.5, -1e20]) {
        const answer = await post('query($i: JobInput!) { previewScript(input: $i) { __typename } }', { i: { ...baseInput(), [field]: value } });
        expect(answer.data, `${field} ← ${JSON.stringify(value)}`).toBeUndefined();
        expect(answer.errors?.[0]?.message, `${field} ← ${JSON.stringify(value)}`).toMatch(new RegExp(`\\$i.*\\b${field}\\b|${field}.*Int`, 's'));
      }
    }
    for (const mutation of ['cancelJob', 'archiveJob', 'unarchiveJob', 'refreshJob', 'syncProject', 'deleteProject']) {
      for (const value of [...sample.slice(0, 8), 2 ** 31, 1.5]) {
        const answer = await post(`mutation($id: Int!) { ${mutation}(id: $id) { __typename } }`, { id: value });
        expect(answer.errors?.[0]?.message, `${mutation} ← ${JSON.stringify(value)}`).toMatch(/\$id/);
      }
      for (const id of [-1, 0, 2 ** 31 - 1]) {
        const answer = await post(`mutation($id: Int!) { ${mutation}(id: $id) { __typename ... on Error { message } } }`, { id });
        expect(answer.data?.[mutation], `${mutation}(${id})`).toMatchObject({ __typename: 'NotFoundError' });
      }
    }
  });

  it('refuses every value as a project path, a cluster name or a primary config, with a typed error', async () => {
    const addProject = await batched(CORPUS, 'mutation', '$p#: String!', (index) => `addProject(localPath: $p${index})`, '__typename ... on ValidationError { field message }', (value, index) => ({ [`p${index}`]: value }));
    addProject.forEach((outcome, index) => expect(outcome, JSON.stringify(CORPUS[index]).slice(0, 200)).toMatchObject({ __typename: 'ValidationError', field: 'localPath' }));

    const byName: Array<[string, string, string, string]> = [
      ['mutation', 'testClusterConnection(name: $v#)', 'NotFoundError', '$v#: String!'],
      ['query', 'cluster(name: $v#)', 'NotFoundError', '$v#: String!'],
      ['query', 'gpuAvailability(cluster: $v#)', 'NotFoundError', '$v#: String!'],
      ['query', `hydraConfig(projectId: ${projectId}, primary: $v#)`, 'HydraConfigError', '$v#: String'],
    ];
    for (const [operation, call, typename, types] of byName) {
      const field = (index: number) => call.replaceAll('#', String(index));
      const outcomes = await batched(CORPUS, operation as 'query', types, field, '__typename ... on Error { message }', (value, index) => ({ [`v${index}`]: value }));
      outcomes.forEach((outcome, index) => expect(outcome, `${call} ← ${JSON.stringify(CORPUS[index]).slice(0, 200)}`).toMatchObject({ __typename: typename }));
    }

    // Search text goes into SQL as a bound LIKE pattern: no error, no row from nowhere. A search box's text is at
    // most 500 characters: longer is refused, naming the field, never run as SQL.
    const searchable = CORPUS.filter((value) => value.length <= 500);
    const searched = await batched(searchable, 'query', '$s#: String', (index) => `jobs(filter: { search: $s${index}, cluster: $s${index} })`, 'nodes { id }', (value, index) => ({ [`s${index}`]: value }));
    for (const connection of searched) expect(connection).toEqual({ nodes: [] });
    for (const value of CORPUS.filter((text) => text.length > 500)) {
      const refused = await post('query($s: String) { jobs(filter: { search: $s }) { nodes { id } } }', { s: value });
      expect(refused.errors, value.slice(0, 80)).toEqual([expect.objectContaining({ message: expect.stringMatching(/^search: must be at most 500 characters/), extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'search' }) })]);
    }
  });

  it('submits accepted hostile data to SLURM: stored, passed and printed verbatim, never run', async () => {
    const wait = async (id: number, states: string[]) => {
      let job: any;
      await expect
        .poll(async () => (job = (await post(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state tag submitError script } } } }`, { id })).data.refreshJob.data).state, { timeout: 90_000, interval: 2000 })
        .toSatisfy((state: string) => states.includes(state));
      return job;
    };
    const submit = async (input: Record<string, unknown>) => {
      const answer = await post(`mutation($i: JobInput!) { submitJob(input: $i) { __typename ... on MutationSubmitJobSuccess { data { id tag state submitError script input { description rawOverrides parameters { path value add } } } } ... on Error { message } } }`, { i: input });
      expect(answer.data?.submitJob?.__typename, JSON.stringify(answer).slice(0, 500)).toBe('MutationSubmitJobSuccess');
      return answer.data.submitJob.data;
    };

    // Job A: many hostile strings at once, each as its own parameter, and the description made of them.
    const strings = acceptedBy.get('parameters (string value)')!.filter((value) => !isLong(value));
    const description = acceptedBy.get('description')!.filter((value) => !isLong(value)).reduce((text, value) => (text.length + value.length < 1990 ? `${text}${value} ` : text), '');
    const quotedRaw = acceptedBy.get('rawOverrides (quoted as a Hydra string)')!.filter((value) => !isLong(value)).slice(0, 20);
    const rawOverrides = quotedRaw.map((value, index) => `+raw_${index}='${value}'`).join(' ');
    const parametersA = [{ path: 'sleep_seconds', value: 1 }, ...strings.map((value, index) => ({ path: `hostile_${index}`, value, add: true }))];
    const jobA = await submit({ ...baseInput(), description, rawOverrides, parameters: parametersA });
    // Job B: a 100 kB value, and hostile text inside a list and as mapping keys.
    const longValue = acceptedBy.get('parameters (string value)')!.find((value) => value.length >= LONG && value.includes('touch'))!;
    expect(longValue).toBeDefined();
    const lists = acceptedBy.get('parameters (list item)')!.filter((value) => !isLong(value)).slice(0, 40);
    const keys = acceptedBy.get('parameters (mapping key and value)')!.filter((value) => !isLong(value)).slice(0, 40);
    const parametersB = [{ path: 'sleep_seconds', value: 1 }, { path: 'long_note', value: longValue, add: true }, { path: 'tags', value: lists }, { path: 'mapping', value: Object.fromEntries(keys.map((key) => [key, key])), add: true }];
    const jobB = await submit({ ...baseInput(), parameters: parametersB });

    const asStored = (parameters: object[]) => parameters.map((parameter) => ({ add: false, ...parameter }));
    expect(jobA.input).toEqual({ description, rawOverrides, parameters: asStored(parametersA) });
    expect(jobB.input.parameters).toEqual(asStored(parametersB));
    const argvA = await commandArgv(jobA.script);
    strings.forEach((value, index) => expect(overrideValue(argvA, `hostile_${index}`)).toBe(value));
    quotedRaw.forEach((value, index) => expect(overrideValue(argvA, `raw_${index}`)).toBe(parseHydraValue(`'${value}'`)));
    const argvB = await commandArgv(jobB.script);
    expect(overrideValue(argvB, 'long_note')).toBe(longValue);
    expect(overrideValue(argvB, 'tags')).toEqual(lists);
    expect(overrideValue(argvB, 'mapping')).toEqual(Object.fromEntries(keys.map((key) => [key, key])));

    for (const [job, argv] of [[jobA, argvA], [jobB, argvB]] as const) {
      expect(await wait(job.id, ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'])).toMatchObject({ state: 'COMPLETED' });
      // The fixture's train.py prints each override it received: the cluster's shell gave it the same argv.
      const log = onLab(lab!, `cat ~/mission-control/jobs/${job.tag}/output.log`).stdout;
      for (const arg of argv.slice(4)) expect(log).toContain(`override: ${arg}\n`);
    }
  }, 240_000);

  it('takes shell syntax in project paths and origins as names, and refuses option- and ext:: origins', async () => {
    const canary = `${CANARY_PREFIX}-repo`;
    const hostileRepo = createFixtureRepo(lab!.user, { work: `ml $(touch ${canary}-1) ;\`touch ${canary}-2\` 'q' "d" \u00e9\nx`, origin: `origin $(touch ${canary}-3);'x'.git` });
    const submitFrom = async (path: string, allowUnpushed = false) => {
      const added = await post('mutation($p: String!) { addProject(localPath: $p) { __typename ... on MutationAddProjectSuccess { data { id localPath } } ... on Error { message } } }', { p: path });
      expect(added.data.addProject.__typename, JSON.stringify(added)).toBe('MutationAddProjectSuccess');
      expect(added.data.addProject.data.localPath).toBe(path);
      const input = { ...baseInput(), projectId: added.data.addProject.data.id, allowUnpushed, parameters: [{ path: 'sleep_seconds', value: 1 }] };
      const answer = await post(`mutation($i: JobInput!) { submitJob(input: $i) { __typename ... on MutationSubmitJobSuccess { data { id tag state submitError } } ... on Error { message } } }`, { i: input });
      expect(answer.data.submitJob.__typename, JSON.stringify(answer)).toBe('MutationSubmitJobSuccess');
      return answer.data.submitJob.data;
    };
    const fromHostilePath = await submitFrom(hostileRepo.work);

    const withOrigin = (origin: string) => {
      const repo = createFixtureRepo(lab!.user);
      execFileSync('git', ['-C', repo.work, 'config', 'remote.origin.url', origin]);
      return repo.work;
    };
    // Such origins are refused when the project is read (test/lab/hostile-repo-git.test.ts has the whole corpus).
    for (const origin of [`--upload-pack=touch ${canary}-4`, `ext::sh -c touch% ${canary}-5`]) {
      const added = await post('mutation($p: String!) { addProject(localPath: $p) { __typename ... on ValidationError { field } } }', { p: withOrigin(origin) });
      expect(added.data.addProject).toEqual({ __typename: 'ValidationError', field: 'origin' });
    }

    let state = '';
    await expect
      .poll(async () => (state = (await post(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state } } } }`, { id: fromHostilePath.id })).data.refreshJob.data.state), { timeout: 90_000, interval: 2000 })
      .toSatisfy((current: string) => ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(current));
    expect(state).toBe('COMPLETED');
  }, 180_000);

  it('left no canary on the lab or on this machine', () => {
    const onCluster = onLab(lab!, `ls -d ${CANARY_PREFIX}* 2>/dev/null; true`).stdout.trim();
    expect(onCluster).toBe('');
    const local = readdirSync('/tmp').filter((name) => `/tmp/${name}`.startsWith(CANARY_PREFIX));
    expect(local).toEqual([]);
    expect(existsSync(CANARY_PREFIX)).toBe(false);
  });
});
