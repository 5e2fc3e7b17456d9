import { describe, expect, it } from 'vitest';
import type { JobInputValue } from '../api/jobs';
import { type HydraConfig, applyHydra, controlIdForField, formFromInput, inputFromForm, messageForField, parseParameter } from './launch-form';

const hydra: HydraConfig = {
  configDir: 'conf',
  primary: 'train',
  primaries: ['eval', 'train'],
  hasExperimentSuffix: true,
  groups: [
    { path: 'model', options: ['resnet', 'vit'], default: ['resnet'], optional: false, package: null },
    { path: 'logger', options: ['wandb'], default: ['wandb'], optional: true, package: null },
    { path: 'scheduler', options: ['cosine'], default: [], optional: true, package: null },
  ],
  parameters: [
    { path: 'seed', type: 'INT', default: 42, readOnly: false, source: 'train.yaml' },
    { path: 'optimizer.lr', type: 'FLOAT', default: 0.001, readOnly: false, source: 'optimizer/adam.yaml' },
    { path: 'debug', type: 'BOOL', default: false, readOnly: false, source: 'train.yaml' },
    { path: 'tags', type: 'LIST', default: ['baseline'], readOnly: false, source: 'train.yaml' },
    { path: 'run_name', type: 'STRING', default: '${model.name}-${seed}', readOnly: true, source: 'train.yaml' },
  ],
};

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
  primary: 'train',
  groups: [{ group: 'model', option: 'vit' }],
  parameters: [
    { path: 'seed', value: 42 },
    { path: 'extra.flag', value: true },
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
    expect(input).toMatchObject({ primary: 'train', cluster: 'lab', nodes: 1, memory: '4G', parameters: [{ path: 'optimizer.lr', value: 0.01 }], groups: [{ group: 'logger', option: null }] });
  });

  it('keeps a clone identical: its explicit values (even at their defaults) and parameters the config no longer lists', () => {
    const form = formFromInput(clone, hydra, 'other', { keepDescription: true });
    expect(form).toMatchObject({ cluster: 'lab', partition: 'gpu', gpusPerNode: '2', gpuType: 'a100', description: 'vit run', parentJobId: 7 });
    const { input } = inputFromForm(form, hydra, 1);
    expect(input.groups).toEqual([{ group: 'model', option: 'vit' }]);
    expect(input.parameters).toEqual(expect.arrayContaining([{ path: 'seed', value: 42 }, { path: 'extra.flag', value: true }]));
    expect(input.parameters).toHaveLength(2);
    expect(input).toMatchObject({ rawOverrides: '+trainer.precision=16', parentJobId: 7, memory: '16G', timeLimit: '2:00:00' });
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
    const other: HydraConfig = { ...hydra, primary: 'eval', parameters: [{ path: 'seed', type: 'INT', default: 1, readOnly: false, source: 'eval.yaml' }] };
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
