// Launches through real Hydra 1.3.2 on the lab, one per pattern of issue 14 that real projects use: each is
// previewed and submitted over GraphQL as the phone or a notebook does, runs a real `@hydra.main` app
// (test/fixtures/hydra-patterns, test/fixtures/hydra-nested), and the config the job prints is what Hydra composed
// from the form's choices. Needs the lab with Hydra importable by the lab user (test/lab/lab.sh installs it).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { TERMINAL_STATES, type JobState } from '../../server/slurm/state.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab, type Lab } from './lab-env.js';

const SUITE = 'real Hydra lab suite';

/** The lab, when its python3 imports Hydra 1.3.2; in CI anything less is a failure, elsewhere a skip with the reason. */
function labWithHydra(): Lab | null {
  const lab = labForSuite(SUITE);
  if (!lab) return null;
  const probe = onLab(lab, `python3 -c 'import hydra; print(hydra.__version__)'`);
  if (probe.status === 0 && probe.stdout.trim() === '1.3.2') return lab;
  const reason = `${SUITE}: the lab user's python3 does not import Hydra 1.3.2 (got "${probe.stdout.trim()}", exit ${probe.status}); \`npm run lab:up\` installs it from ../shared/vendor/hydra-core-1.3.2`;
  if (process.env.CI) throw new Error(reason);
  console.warn(`SKIPPED ${reason}`);
  return null;
}

const lab = labWithHydra();

interface Ran {
  /** The app's config as Hydra composed it (unresolved). */
  config: Record<string, any>;
  /** hydra.runtime.choices: the option Hydra used for each group (list-valued defaults are not in it). */
  choices: Record<string, unknown>;
  /** The config with interpolations resolved, as the app reads it; null when the config cannot be resolved. */
  resolved: Record<string, any> | null;
  script: string;
}

describe.skipIf(!lab)('launches through real Hydra on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let patterns: number;
  let nested: number;

  async function addProject(fixture: string): Promise<number> {
    const repo = createFixtureRepo(lab!.user, { fixture });
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { __typename ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    if (added.addProject.__typename !== 'MutationAddProjectSuccess') throw new Error(`addProject ${fixture}: ${JSON.stringify(added.addProject)}`);
    return added.addProject.data.id;
  }

  const input = (projectId: number, primary: string, choices: Record<string, unknown> = {}) => ({ projectId, cluster: 'lab', primary, memory: '200M', timeLimit: '5:00', cpusPerTask: 1, ...choices });

  async function hydraConfig(projectId: number, primary: string, groups: unknown[] = []) {
    const data = await request(
      `query($id: Int!, $primary: String, $groups: [GroupChoiceInput!]) { hydraConfig(projectId: $id, primary: $primary, groups: $groups) { __typename ... on QueryHydraConfigSuccess { data { configDir primary groups { path overrideKey options default optional required } parameters { path default readOnly required } } } ... on Error { message } } }`,
      { id: projectId, primary, groups },
    );
    if (data.hydraConfig.__typename !== 'QueryHydraConfigSuccess') throw new Error(`hydraConfig ${primary}: ${JSON.stringify(data.hydraConfig)}`);
    return data.hydraConfig.data;
  }

  /** The preview's answer as it is: a script, or the typed error (its __typename, message and field). */
  async function preview(launch: Record<string, unknown>) {
    const data = await request(`query($input: JobInput!) { previewScript(input: $input) { __typename ... on QueryPreviewScriptSuccess { data { tag script } } ... on Error { message } ... on ValidationError { field } } }`, { input: launch });
    return data.previewScript;
  }

  /** Preview, submit under the previewed tag, wait for the end, and read what the job printed. */
  async function run(launch: Record<string, unknown>): Promise<Ran> {
    const previewed = await preview(launch);
    if (previewed.__typename !== 'QueryPreviewScriptSuccess') throw new Error(`previewScript: ${JSON.stringify(previewed)}`);
    const submitted = await request(`mutation($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input: launch, tag: previewed.data.tag });
    if (submitted.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(submitted.submitJob)}`);
    const id = submitted.submitJob.data.id;
    let job: any;
    await expect
      .poll(async () => (job = (await request(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state exitCode submitError } } } }`, { id })).refreshJob.data).state, { timeout: 90_000, interval: 1000 })
      .toSatisfy((state: JobState) => TERMINAL_STATES.has(state));
    const read = await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { log { ... on JobLogSuccess { data { text } } ... on Error { message } } } } } }`, { id });
    const text: string = read.job.data.log.data?.text ?? JSON.stringify(read.job.data.log);
    // Hydra's refusal is in the log: show it rather than a bare state.
    expect(job.state, `${job.submitError ?? ''}\n${text.slice(-2000)}`).toBe('COMPLETED');
    const line = (prefix: string) => {
      const found = text.split('\n').find((candidate) => candidate.startsWith(prefix));
      if (!found) throw new Error(`the job printed no "${prefix}" line:\n${text.slice(-2000)}`);
      return found.slice(prefix.length);
    };
    const resolved = line('resolved config: ');
    return {
      config: JSON.parse(line('composed config: ')),
      choices: JSON.parse(line('choices: ')),
      resolved: resolved.startsWith('unresolvable') ? null : JSON.parse(resolved),
      script: previewed.data.script,
    };
  }

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-real-hydra-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    patterns = await addProject('hydra-patterns');
    nested = await addProject('hydra-nested');
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('1, 2: sets the arguments of _target_ blocks, with an option named with its .yaml extension in the defaults', async () => {
    const form = await hydraConfig(patterns, 'lightning');
    const lr = form.parameters.find((parameter: { path: string }) => parameter.path === 'model.optimizer.lr');
    expect(lr).toMatchObject({ default: 0.001, readOnly: false });
    expect(form.parameters.find((parameter: { path: string }) => parameter.path === 'trainer._target_')).toMatchObject({ readOnly: true });
    expect(form.groups.find((group: { path: string }) => group.path === 'extras')).toMatchObject({ default: ['default'] });

    const ran = await run(input(patterns, 'lightning', { parameters: [{ path: 'trainer.max_epochs', value: 20 }, { path: 'data.batch_size', value: 64 }, { path: 'model.optimizer.lr', value: 0.002 }] }));
    expect(ran.script).toContain('trainer.max_epochs=20 data.batch_size=64 model.optimizer.lr=0.002');
    expect(ran.config.trainer).toMatchObject({ _target_: 'lightning.pytorch.trainer.Trainer', max_epochs: 20 });
    expect(ran.config.data).toMatchObject({ batch_size: 64 });
    expect(ran.config.model.optimizer).toEqual({ _target_: 'torch.optim.Adam', _partial_: true, lr: 0.002, weight_decay: 0 });
    expect(ran.config.extras).toEqual({ ignore_warnings: false, enforce_tags: true, print_config: true });
    expect(ran.choices).toMatchObject({ extras: 'default.yaml', model: 'mnist', trainer: 'default' });
  });

  it('passes form text that looks like an interpolation to the app as typed, never resolved nor refused by Hydra', async () => {
    // A form field holds text (the hostile suite's contract): Hydra reads ${…} inside a quoted override value as an
    // interpolation, so unescaped it would hand the app this machine's HOME, or fail the job on a grammar error.
    const text = 'note ${oc.env:HOME}';
    const code = "${python.eval:__import__('os').system('id')}";
    const ran = await run(input(patterns, 'lightning', { parameters: [{ path: 'task_name', value: text }, { path: 'notes', value: code, add: true }] }));
    expect(ran.resolved).toMatchObject({ task_name: text, notes: code });
  });

  it('3: chooses an option kept in a sub-folder of its group (experiment=lm/small)', async () => {
    const form = await hydraConfig(patterns, 'experiments');
    const paths = form.groups.map((group: { path: string }) => group.path);
    expect(paths).toContain('experiment');
    expect(paths).not.toContain('experiment/lm');
    expect(form.groups.find((group: { path: string }) => group.path === 'experiment').options).toEqual(expect.arrayContaining(['lm/small', 'lm/large', 'vision/vit']));

    const ran = await run(input(patterns, 'experiments', { groups: [{ group: 'experiment', option: 'lm/small' }], parameters: [{ path: 'run.lr', value: 0.05 }] }));
    expect(ran.script).toContain('experiment=lm/small');
    expect(ran.choices.experiment).toBe('lm/small');
    expect(ran.config.run).toEqual({ name: 'lm-small', layers: 4, lr: 0.05 });
  });

  it('4: refuses at preview a launch that leaves a ??? group or value unset, naming it; runs once both are set', async () => {
    const form = await hydraConfig(patterns, 'required');
    expect(form.groups.find((group: { path: string }) => group.path === 'db')).toMatchObject({ required: true });
    expect(form.parameters.find((parameter: { path: string }) => parameter.path === 'data_path')).toMatchObject({ required: true });

    const noGroup = await preview(input(patterns, 'required', { parameters: [{ path: 'data_path', value: '/data/x' }] }));
    expect(noGroup.__typename).not.toBe('QueryPreviewScriptSuccess');
    expect(noGroup.message).toMatch(/\bdb\b/);
    const noValue = await preview(input(patterns, 'required', { groups: [{ group: 'db', option: 'mysql' }] }));
    expect(noValue.__typename).not.toBe('QueryPreviewScriptSuccess');
    expect(`${noValue.field ?? ''} ${noValue.message}`).toMatch(/data_path/);

    const ran = await run(input(patterns, 'required', { groups: [{ group: 'db', option: 'postgresql' }], parameters: [{ path: 'data_path', value: '/data/x' }] }));
    expect(ran.config).toEqual({ db: { driver: 'postgresql', port: 5432 }, data_path: '/data/x' });
  });

  it('5: sets each use of a group used twice under two packages (db@source, db@destination)', async () => {
    const form = await hydraConfig(patterns, 'two_dbs');
    expect(form.groups.map((group: { overrideKey: string }) => group.overrideKey)).toEqual(expect.arrayContaining(['db@source', 'db@destination']));

    const ran = await run(input(patterns, 'two_dbs', { groups: [{ group: 'db@destination', option: 'postgresql' }], parameters: [{ path: 'source.port', value: 3307 }] }));
    expect(ran.choices).toMatchObject({ 'db@source': 'mysql', 'db@destination': 'postgresql' });
    expect(ran.config).toEqual({ source: { driver: 'mysql', port: 3307 }, destination: { driver: 'postgresql', port: 5432 } });
  });

  it("6: recomposes after a group change: vit's own parameter can be set, and a key the composition lacks only with add", async () => {
    const vit = await hydraConfig(patterns, 'models', [{ group: 'net', option: 'vit' }]);
    const paths = vit.parameters.map((parameter: { path: string }) => parameter.path);
    expect(paths).toEqual(expect.arrayContaining(['net.patch_size', 'net.heads']));
    expect(paths).not.toContain('net.width');

    // resnet has no patch_size: a likely typo, refused unless the user asks to add it.
    const stale = await preview(input(patterns, 'models', { parameters: [{ path: 'net.patch_size', value: 8 }] }));
    expect(stale.__typename).not.toBe('QueryPreviewScriptSuccess');
    expect(`${stale.field ?? ''} ${stale.message}`).toMatch(/net\.patch_size/);

    const ran = await run(input(patterns, 'models', { groups: [{ group: 'net', option: 'vit' }], parameters: [{ path: 'net.patch_size', value: 8 }, { path: 'net.dropout', value: 0.1, add: true }] }));
    expect(ran.script).toContain('+net.dropout=0.1');
    expect(ran.script).not.toContain('++net.');
    expect(ran.choices.net).toBe('vit');
    expect(ran.config).toEqual({ epochs: 3, net: { name: 'vit', depth: 12, patch_size: 8, heads: 8, dropout: 0.1 } });
  });

  it('7: chooses several options of a group whose default is a list (callbacks)', async () => {
    const form = await hydraConfig(patterns, 'callbacks');
    expect(form.groups.find((group: { path: string }) => group.path === 'callbacks')).toMatchObject({ default: ['early_stopping', 'model_checkpoint'] });

    const ran = await run(input(patterns, 'callbacks', { groups: [{ group: 'callbacks', option: null, options: ['early_stopping', 'lr_monitor'] }], parameters: [{ path: 'callbacks.early_stopping.patience', value: 5 }] }));
    expect(Object.keys(ran.config.callbacks).sort()).toEqual(['early_stopping', 'lr_monitor']);
    expect(ran.config.callbacks.early_stopping.patience).toBe(5);
  });

  it("8: finds the config directory @hydra.main names under src/, with hydra.searchpath's options", async () => {
    const form = await hydraConfig(nested, 'main');
    expect(form.configDir).toBe('src/app/configs');
    expect(form.groups.find((group: { path: string }) => group.path === 'dataset').options).toEqual(expect.arrayContaining(['cifar10', 'imagenet']));

    const ran = await run(input(nested, 'main', { groups: [{ group: 'dataset', option: 'imagenet' }], parameters: [{ path: 'epochs', value: 2 }] }));
    expect(ran.choices.dataset).toBe('imagenet');
    expect(ran.config).toEqual({ dataset: { name: 'imagenet', classes: 1000 }, epochs: 2 });
  });
});
