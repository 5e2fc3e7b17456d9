import { describe, expect, it } from 'vitest';
import type { JobInputValue } from '../api/jobs';
import { type HydraConfig, type HydraGroup, type HydraParameter, REQUIRED_GROUP, REQUIRED_VALUE, applyHydra, controlIdForField, formFromInput, groupChoices, inputFromForm, isListValued, messageForField, missingRequired, newKeyProblem, parseParameter } from './launch-form';

const hydra: HydraConfig = {
  configDir: 'conf',
  primary: 'train',
  primaries: ['eval', 'train'],
  hasExperimentSuffix: true,
  groups: [
    group('model', ['resnet', 'vit'], ['resnet']),
    group('logger', ['wandb'], ['wandb'], { optional: true }),
    group('scheduler', ['cosine'], [], { optional: true }),
  ],
  parameters: [
    parameter('seed', 'INT', 42),
    parameter('optimizer.lr', 'FLOAT', 0.001, { source: 'optimizer/adam.yaml' }),
    parameter('debug', 'BOOL', false),
    parameter('tags', 'LIST', ['baseline']),
    parameter('run_name', 'STRING', '${model.name}-${seed}', { readOnly: true }),
  ],
};

/** resnet's parameters, as the server composes train.yaml with model=resnet (the default). */
const resnet: HydraConfig = {
  ...hydra,
  parameters: [...hydra.parameters, parameter('model.depth', 'INT', 18), parameter('model.channels', 'LIST', [64, 128, 256, 512])],
};
/** The same primary composed with model=vit: depth stays (another default), channels go, patch_size comes. */
const vit: HydraConfig = {
  ...hydra,
  groups: [group('model', ['resnet', 'vit'], ['vit']), ...hydra.groups.slice(1)],
  parameters: [...hydra.parameters, parameter('model.depth', 'INT', 12), parameter('model.patch_size', 'INT', 16)],
};

function group(path: string, options: string[], chosen: string[], rest: Partial<HydraGroup> = {}): HydraGroup {
  return { path, overrideKey: path, options, default: chosen, listValued: false, optional: false, required: false, package: null, ...rest };
}

function parameter(path: string, type: HydraParameter['type'], value: unknown, rest: Partial<HydraParameter> = {}): HydraParameter {
  return { path, type, default: value, readOnly: false, required: false, source: 'train.yaml', ...rest };
}

const clone: JobInputValue = {
  projectId: 1,
  cluster: 'lab',
  name: null,
  description: 'vit run',
  partition: 'gpu',
  account: null,
  qos: null,
  nodes: 1,
  gpusPerNode: 2,
  gpuType: 'a100',
  cpusPerTask: 4,
  memory: '16G',
  timeLimit: '2:00:00',
  resume: { maxRestarts: 3, signalSeconds: 300, override: '+resume=true' },
  primary: 'train',
  groups: [{ group: 'model', option: 'vit', options: null }],
  parameters: [
    { path: 'seed', value: 42, add: false },
    { path: 'trainer.precision', value: 16, add: true },
  ],
  rawOverrides: '+trainer.precision=16',
  parentJobId: 7,
  allowUnpushed: false,
};

describe('typed parameter values', () => {
  it('parses what was typed by the parameter’s type, or says what is expected', () => {
    expect(parseParameter('7', 'INT')).toEqual({ value: 7 });
    expect(parseParameter('7.5', 'INT')).toEqual({ error: 'a whole number' });
    expect(parseParameter('1e-3', 'FLOAT')).toEqual({ value: 0.001 });
    expect(parseParameter('fast', 'FLOAT').error).toBeDefined();
    expect(parseParameter(true, 'BOOL')).toEqual({ value: true });
    expect(parseParameter('[64, 128]', 'LIST')).toEqual({ value: [64, 128] });
    expect(parseParameter('64, 128', 'LIST').error).toContain('list');
    expect(parseParameter('{"a": 1}', 'DICT')).toEqual({ value: { a: 1 } });
    expect(parseParameter('hello world', 'STRING')).toEqual({ value: 'hello world' });
    expect(parseParameter('', 'NULL')).toEqual({ value: null });
    expect(parseParameter('3', 'NULL')).toEqual({ value: 3 });
  });
});

describe('the launch form', () => {
  it('sends only what differs from the config’s defaults for a fresh launch', () => {
    const form = formFromInput(null, hydra, 'lab', { keepDescription: false });
    expect(form.parameters).toMatchObject({ seed: '42', 'optimizer.lr': '0.001', debug: false, tags: '["baseline"]' });
    expect(form.groups).toEqual({ model: 'resnet', logger: 'wandb', scheduler: '' });
    const { input, errors } = inputFromForm({ ...form, parameters: { ...form.parameters, 'optimizer.lr': '0.01' }, groups: { ...form.groups, logger: '' } }, hydra, 1);
    expect(errors).toEqual({});
    expect(input).toMatchObject({ primary: 'train', cluster: 'lab', nodes: 1, memory: null, timeLimit: null, parameters: [{ path: 'optimizer.lr', value: 0.01 }], groups: [{ group: 'logger', option: null }] });
  });

  it('keeps a clone identical: its explicit values (even at their defaults) and the keys it added', () => {
    const form = formFromInput(clone, hydra, 'other', { keepDescription: true });
    expect(form).toMatchObject({ cluster: 'lab', partition: 'gpu', gpusPerNode: '2', gpuType: 'a100', description: 'vit run', parentJobId: 7 });
    const { input } = inputFromForm(form, hydra, 1);
    expect(input.groups).toEqual([{ group: 'model', option: 'vit' }]);
    expect(input.parameters).toEqual(expect.arrayContaining([{ path: 'seed', value: 42 }, { path: 'trainer.precision', value: 16, add: true }]));
    expect(input.parameters).toHaveLength(2);
    expect(input).toMatchObject({ rawOverrides: '+trainer.precision=16', parentJobId: 7, memory: '16G', timeLimit: '2:00:00', resume: { maxRestarts: 3, signalSeconds: 300, override: '+resume=true' } });
  });

  it('names the field of a value that cannot be sent, and never sends a read-only parameter', () => {
    const form = formFromInput(null, hydra, 'lab', { keepDescription: false });
    const { errors, input } = inputFromForm({ ...form, nodes: 'two', parameters: { ...form.parameters, seed: 'x', run_name: 'mine' } }, hydra, 1);
    expect(errors).toEqual({ nodes: 'a whole number', 'parameters.seed': 'a whole number' });
    expect(input.parameters.map((parameter) => parameter.path)).not.toContain('run_name');
  });

  it('keeps what the user set when another primary config is chosen', () => {
    const form = formFromInput(null, hydra, 'lab', { keepDescription: false });
    const touched = { ...form, parameters: { ...form.parameters, seed: '9' }, explicitParameters: ['seed'] };
    const other: HydraConfig = { ...hydra, primary: 'eval', parameters: [parameter('seed', 'INT', 1, { source: 'eval.yaml' })] };
    const switched = applyHydra({ ...touched, primary: 'eval' }, other, null);
    expect(switched.parameters).toEqual({ seed: '9' });
    expect(inputFromForm(switched, other, 1).input).toMatchObject({ primary: 'eval', parameters: [{ path: 'seed', value: 9 }] });
  });

  it('shows a server message without its field prefix, next to the control that field names', () => {
    expect(messageForField('memory: "200X" is not a SLURM memory size', 'memory')).toBe('"200X" is not a SLURM memory size');
    expect(controlIdForField('groups.model/encoder')).toBe('field-groups_model_encoder');
    expect(controlIdForField('parameters.optimizer.lr')).toBe('field-parameters_optimizer_lr');
  });
});

describe('the form as Hydra composes it with the user’s choices', () => {
  it('shows the chosen option’s parameters after a group change, keeping edits of keys that stay and dropping the others visibly', () => {
    const form = formFromInput(null, resnet, 'lab', { keepDescription: false });
    const edited = { ...form, groups: { ...form.groups, model: 'vit' }, explicitGroups: ['model'], parameters: { ...form.parameters, seed: '7', 'model.channels': '[1, 2]', 'model.depth': '50' }, explicitParameters: ['seed', 'model.channels', 'model.depth'] };
    // What the form asks the server to compose with: the changed choice.
    expect(groupChoices(edited, resnet)).toEqual([{ group: 'model', option: 'vit' }]);
    const recomposed = applyHydra(edited, vit, null);
    expect(recomposed.groups.model).toBe('vit');
    expect(recomposed.parameters).toMatchObject({ seed: '7', 'model.depth': '50', 'model.patch_size': '16' });
    expect(recomposed.parameters).not.toHaveProperty('model.channels');
    expect(recomposed.dropped).toEqual(['model.channels']);
    const { input, errors } = inputFromForm(recomposed, vit, 1);
    expect(errors).toEqual({});
    expect(input.groups).toEqual([{ group: 'model', option: 'vit' }]);
    expect(input.parameters).toEqual([
      { path: 'seed', value: 7 },
      { path: 'model.depth', value: 50 },
    ]);
  });

  it('fills a clone’s form from the config composed with its choices, and says which of its values the config lacks', () => {
    const old: JobInputValue = { ...clone, parameters: [...clone.parameters, { path: 'model.channels', value: [8], add: false }] };
    const form = formFromInput(old, vit, 'lab', { keepDescription: true });
    expect(form.groups.model).toBe('vit');
    expect(form.dropped).toEqual(['model.channels']);
    expect(form.added).toEqual(['trainer.precision']);
    expect(inputFromForm(form, vit, 1).input.parameters.map((entry) => entry.path)).not.toContain('model.channels');
  });

  it('keeps two uses of one group apart by their overrideKey (db@source, db@destination)', () => {
    const twice: HydraConfig = {
      ...hydra,
      groups: [group('db', ['mysql', 'postgres'], ['mysql'], { overrideKey: 'db@source', package: 'source' }), group('db', ['mysql', 'postgres'], ['mysql'], { overrideKey: 'db@destination', package: 'destination' })],
    };
    const form = formFromInput(null, twice, 'lab', { keepDescription: false });
    expect(form.groups).toEqual({ 'db@source': 'mysql', 'db@destination': 'mysql' });
    const changed = { ...form, groups: { ...form.groups, 'db@destination': 'postgres' } };
    const { input } = inputFromForm(changed, twice, 1);
    expect(input.groups).toEqual([{ group: 'db@destination', option: 'postgres' }]);
    // The launch round-trips: a clone of it chooses postgres for the destination only.
    const again = formFromInput({ ...clone, groups: input.groups.map((choice) => ({ option: null, options: null, ...choice })), parameters: [] }, twice, 'lab', { keepDescription: false });
    expect(again.groups).toEqual({ 'db@source': 'mysql', 'db@destination': 'postgres' });
    // A path alone cannot say which use it meant: not applied to either, and said.
    const ambiguous = formFromInput({ ...clone, groups: [{ group: 'db', option: 'postgres', options: null }], parameters: [] }, twice, 'lab', { keepDescription: false });
    expect(ambiguous.groups).toEqual({ 'db@source': 'mysql', 'db@destination': 'mysql' });
    expect(ambiguous.dropped).toEqual(['db (group)']);
  });

  it('sends several options for a list-valued group, and a clone keeps them', () => {
    const withCallbacks: HydraConfig = { ...hydra, groups: [...hydra.groups, group('callbacks', ['checkpoint', 'early_stopping', 'lr_monitor'], ['checkpoint', 'early_stopping'], { listValued: true })] };
    const form = formFromInput(null, withCallbacks, 'lab', { keepDescription: false });
    expect(form.groups.callbacks).toEqual(['checkpoint', 'early_stopping']);
    expect(inputFromForm(form, withCallbacks, 1).input.groups).toEqual([]);
    const changed = { ...form, groups: { ...form.groups, callbacks: ['checkpoint', 'lr_monitor'] }, explicitGroups: ['callbacks'] };
    const { input } = inputFromForm(changed, withCallbacks, 1);
    expect(input.groups).toEqual([{ group: 'callbacks', options: ['checkpoint', 'lr_monitor'] }]);
    // As the server hands it back in lastJobInput / jobTemplate.
    const stored: JobInputValue = { ...clone, groups: [{ group: 'callbacks', option: null, options: ['checkpoint', 'lr_monitor'] }], parameters: [] };
    const cloned = formFromInput(stored, withCallbacks, 'lab', { keepDescription: true });
    expect(cloned.groups.callbacks).toEqual(['checkpoint', 'lr_monitor']);
    expect(inputFromForm(cloned, withCallbacks, 1).input.groups).toEqual([{ group: 'callbacks', options: ['checkpoint', 'lr_monitor'] }]);
    // A one-option group the source job gave several stays a list.
    const several = formFromInput({ ...stored, groups: [{ group: 'logger', option: null, options: ['wandb'] }] }, withCallbacks, 'lab', { keepDescription: true });
    expect(several.groups.logger).toEqual(['wandb']);
  });

  it('takes a primary listing one option (callbacks: [a]) as a list: checkboxes, sent as options', () => {
    const oneCallback: HydraConfig = { ...hydra, groups: [...hydra.groups, group('callbacks', ['checkpoint', 'lr_monitor'], ['checkpoint'], { listValued: true })] };
    const callbacks = oneCallback.groups.at(-1)!;
    const form = formFromInput(null, oneCallback, 'lab', { keepDescription: false });
    expect(isListValued(callbacks, form.groups.callbacks)).toBe(true);
    expect(form.groups.callbacks).toEqual(['checkpoint']);
    expect(inputFromForm(form, oneCallback, 1).input.groups).toEqual([]);
    const added = { ...form, groups: { ...form.groups, callbacks: ['checkpoint', 'lr_monitor'] }, explicitGroups: ['callbacks'] };
    expect(inputFromForm(added, oneCallback, 1).input.groups).toEqual([{ group: 'callbacks', options: ['checkpoint', 'lr_monitor'] }]);
    // A clone whose job sent the one option as `option` (older jobs) still gets the list.
    const stored: JobInputValue = { ...clone, groups: [{ group: 'callbacks', option: 'lr_monitor', options: null }], parameters: [] };
    expect(formFromInput(stored, oneCallback, 'lab', { keepDescription: true }).groups.callbacks).toEqual(['lr_monitor']);
    // A group whose default is one option and not a list stays a select.
    expect(isListValued(hydra.groups[0]!, 'resnet')).toBe(false);
  });

  it('holds the launch until a required (???) group and value are set, naming them', () => {
    const required: HydraConfig = {
      ...hydra,
      groups: [...hydra.groups, group('db', ['mysql', 'postgres'], [], { required: true })],
      parameters: [...hydra.parameters, parameter('data.path', 'STRING', '???', { required: true })],
    };
    const form = formFromInput(null, required, 'lab', { keepDescription: false });
    expect(form.parameters['data.path']).toBe('');
    const blocked = inputFromForm(form, required, 1);
    expect(blocked.errors).toEqual({ 'groups.db': REQUIRED_GROUP, 'parameters.data.path': REQUIRED_VALUE });
    expect(missingRequired(blocked.errors)).toEqual(['db', 'data.path']);
    // A required group not chosen yet is not sent to be composed (it would turn the group off).
    expect(groupChoices(form, required)).toEqual([]);
    const set = { ...form, groups: { ...form.groups, db: 'postgres' }, parameters: { ...form.parameters, 'data.path': '/data/x' } };
    const { input, errors } = inputFromForm(set, required, 1);
    expect(errors).toEqual({});
    expect(input.groups).toEqual([{ group: 'db', option: 'postgres' }]);
    expect(input.parameters).toEqual([{ path: 'data.path', value: '/data/x' }]);
    // `???` says nothing of the type: a number typed is a number, as on Hydra's command line.
    expect(inputFromForm({ ...set, parameters: { ...set.parameters, 'data.path': '0.5' } }, required, 1).input.parameters).toEqual([{ path: 'data.path', value: 0.5 }]);
  });

  it('adds a key the config does not have only on purpose, sent with add', () => {
    const form = formFromInput(null, hydra, 'lab', { keepDescription: false });
    expect(newKeyProblem('seed', hydra, form)).toContain('in the config already');
    expect(newKeyProblem('trainer precision', hydra, form)).toContain('dotted key');
    expect(newKeyProblem('trainer.precision', hydra, form)).toBeNull();
    const added = { ...form, added: ['trainer.precision'], explicitParameters: ['trainer.precision'], parameters: { ...form.parameters, 'trainer.precision': '16' } };
    expect(newKeyProblem('trainer.precision', hydra, added)).toContain('added already');
    expect(inputFromForm(added, hydra, 1).input.parameters).toEqual([{ path: 'trainer.precision', value: 16, add: true }]);
    // Once a composed config has the key, it is an ordinary value: no longer added.
    const composed: HydraConfig = { ...hydra, parameters: [...hydra.parameters, parameter('trainer.precision', 'INT', 32)] };
    const recomposed = applyHydra(added, composed, null);
    expect(recomposed.added).toEqual([]);
    expect(inputFromForm(recomposed, composed, 1).input.parameters).toEqual([{ path: 'trainer.precision', value: 16 }]);
  });
});
