import { describe, expect, it } from 'vitest';
import type { JobInputValue } from '../api/jobs';
import { applyHydra, formFromInput, inputFromForm, keepIdentity, type HydraConfig, type HydraGroup, type HydraParameter, type LaunchForm } from './launch-form';
import { AFTERCORR_NEEDS_SWEEPS, BAD_THROTTLE, EMPTY_SWEEP, NO_OPTION, applySweepDefinition, dependencyErrors, dependencyKinds, formFieldOf, isSweepForm, sweepFromForm } from './launch-sweep';

function group(path: string, options: string[], chosen: string[], rest: Partial<HydraGroup> = {}): HydraGroup {
  return { path, overrideKey: path, options, default: chosen, listValued: false, optional: false, required: false, package: null, ...rest };
}
function parameter(path: string, type: HydraParameter['type'], value: unknown, rest: Partial<HydraParameter> = {}): HydraParameter {
  return { path, type, default: value, readOnly: false, required: false, source: 'train.yaml', ...rest };
}

const hydra: HydraConfig = {
  configDir: 'conf',
  primary: 'train',
  primaries: ['train'],
  hasExperimentSuffix: false,
  groups: [group('model', ['resnet', 'vit', 'mlp'], ['resnet']), group('callbacks', ['a', 'b'], ['a'], { listValued: true })],
  parameters: [parameter('seed', 'INT', 42), parameter('optimizer.lr', 'FLOAT', 0.001), parameter('model.depth', 'INT', 18), parameter('run_name', 'STRING', 'x', { readOnly: true })],
};

const task: JobInputValue & { overrides: string[] } = {
  projectId: 1,
  cluster: 'lab',
  name: null,
  description: 'sweep task',
  partition: null,
  account: null,
  qos: null,
  resume: null,
  nodes: 1,
  gpusPerNode: 0,
  gpuType: null,
  cpusPerTask: 1,
  memory: '4G',
  timeLimit: '1:00:00',
  primary: 'train',
  groups: [{ group: 'model', option: 'vit', options: null }],
  parameters: [{ path: 'optimizer.lr', value: 0.01, add: false }],
  rawOverrides: '',
  parentJobId: null,
  allowUnpushed: false,
  overrides: ['seed=2', 'trainer.name="a b"'],
};

const fresh = () => formFromInput(null, hydra, 'lab', { keepDescription: false });

describe('a launch form switched to sweep', () => {
  it('sends the swept parameter and group as sweep overrides, and takes them out of the job input', () => {
    const form: LaunchForm = { ...fresh(), parameters: { ...fresh().parameters, seed: '7' }, explicitParameters: ['seed'], groups: { ...fresh().groups, model: 'vit' }, explicitGroups: ['model'] };
    expect(isSweepForm(form)).toBe(false);
    const swept: LaunchForm = { ...form, sweptParameters: { seed: '1,2,3' }, sweptGroups: { model: ['vit', 'resnet'] } };
    expect(isSweepForm(swept)).toBe(true);
    const { sweep, errors, throttle } = sweepFromForm(swept, hydra);
    expect(errors).toEqual({});
    expect(throttle).toBeNull();
    // The group's options in the group's order, whatever the order they were ticked in.
    expect(sweep).toEqual(['seed=1,2,3', 'model=resnet,vit']);
    const { input } = inputFromForm(swept, hydra, 1);
    expect(input.parameters.map((entry) => entry.path)).not.toContain('seed');
    expect(input.groups).toEqual([]);
    // Switched back, the value set before is sent again.
    const back = inputFromForm({ ...swept, sweptParameters: {}, sweptGroups: {} }, hydra, 1).input;
    expect(back.parameters).toContainEqual({ path: 'seed', value: 7 });
    expect(back.groups).toEqual([{ group: 'model', option: 'vit' }]);
  });

  it('passes ranges and typed sweep overrides as written, one a line, after the switched fields', () => {
    const form: LaunchForm = { ...fresh(), sweptParameters: { 'optimizer.lr': ' range(0.1, 1, 0.2) ' }, sweepOverrides: 'model=glob(*)\n\n  seed=choice(1,2)  \n' };
    expect(sweepFromForm(form, hydra).sweep).toEqual(['optimizer.lr=range(0.1, 1, 0.2)', 'model=glob(*)', 'seed=choice(1,2)']);
    expect(isSweepForm({ ...fresh(), sweepOverrides: ' \n ' })).toBe(false);
    expect(isSweepForm({ ...fresh(), sweepOverrides: 'model=glob(*)' })).toBe(true);
  });

  it('sweeps an added key with its +', () => {
    const form: LaunchForm = { ...fresh(), added: ['trainer.precision'], parameters: { ...fresh().parameters, 'trainer.precision': '16' }, sweptParameters: { 'trainer.precision': '16,32' } };
    expect(sweepFromForm(form, hydra).sweep).toEqual(['+trainer.precision=16,32']);
    expect(inputFromForm(form, hydra, 1).input.parameters.map((entry) => entry.path)).not.toContain('trainer.precision');
  });

  it('names the fields that cannot be sent: an empty sweep, a group with nothing ticked, a throttle that is no count', () => {
    const form: LaunchForm = { ...fresh(), sweptParameters: { seed: '  ' }, sweptGroups: { model: [] }, throttle: '0' };
    const { errors, sweep } = sweepFromForm(form, hydra);
    expect(errors).toEqual({ 'parameters.seed': EMPTY_SWEEP, 'groups.model': NO_OPTION, throttle: BAD_THROTTLE });
    expect(sweep).toEqual([]);
    expect(sweepFromForm({ ...form, throttle: '2.5' }, hydra).errors.throttle).toBe(BAD_THROTTLE);
    expect(sweepFromForm({ ...form, throttle: ' 8 ' }, hydra).throttle).toBe(8);
  });

  it('shows the server’s sweep.<key> refusals under the swept field of that key, or under the typed overrides', () => {
    const form = { sweptParameters: { seed: '1,x' }, sweptGroups: { model: ['vit'] } };
    expect(formFieldOf('sweep.seed', form)).toBe('parameters.seed');
    expect(formFieldOf('sweep.+seed', form)).toBe('parameters.seed');
    expect(formFieldOf('sweep.model', form)).toBe('groups.model');
    expect(formFieldOf('sweep.optimizer.lr', form)).toBe('sweepOverrides');
    // The whole sweep (too large, nothing varies) has its own place; others are the form's names already.
    expect(formFieldOf('sweep', form)).toBe('sweep');
    expect(formFieldOf('parameters.model.depth', form)).toBe('parameters.model.depth');
    expect(formFieldOf(null, form)).toBeNull();
  });

  it('drops a sweep of a key the recomposed config no longer has, and says so', () => {
    const form: LaunchForm = { ...fresh(), sweptParameters: { 'model.depth': '18,34', seed: '1,2' }, sweptGroups: { model: ['resnet', 'vit'], gone: ['x'] } };
    const withoutDepth: HydraConfig = { ...hydra, parameters: hydra.parameters.filter((entry) => entry.path !== 'model.depth') };
    const next = applyHydra(form, withoutDepth, null);
    expect(next.sweptParameters).toEqual({ seed: '1,2' });
    expect(next.sweptGroups).toEqual({ model: ['resnet', 'vit'] });
    expect(next.dropped).toEqual(['model.depth', 'gone (group)']);
  });
});

describe('cloning a sweep or a task', () => {
  it('switches the swept keys on again from the sweep’s definition; what no switch says stays typed', () => {
    const form = applySweepDefinition(formFromInput(task, hydra, 'lab', { keepDescription: true }), ['seed=1,2,3', 'model=resnet,vit', 'optimizer.lr=range(0.1,1,0.2)', 'model.depth=glob(*)', 'callbacks=a,b', 'run_name=a,b', '+x=1,2'], hydra);
    expect(form.sweptParameters).toEqual({ seed: '1,2,3', 'optimizer.lr': 'range(0.1,1,0.2)', 'model.depth': 'glob(*)' });
    expect(form.sweptGroups).toEqual({ model: ['resnet', 'vit'] });
    // A list-valued group and a computed value have no switch; a key the config lacks has none either.
    expect(form.sweepOverrides).toBe('callbacks=a,b\nrun_name=a,b\n+x=1,2');
    const { sweep } = sweepFromForm(form, hydra);
    expect(sweep).toEqual(['seed=1,2,3', 'optimizer.lr=range(0.1,1,0.2)', 'model.depth=glob(*)', 'model=resnet,vit', 'callbacks=a,b', 'run_name=a,b', '+x=1,2']);
  });

  it('keeps a task’s own overrides through the form, as given, and drops those the user removed or emptied', () => {
    const form = formFromInput(task, hydra, 'lab', { keepDescription: true });
    expect(form.overrides).toEqual(['seed=2', 'trainer.name="a b"']);
    expect(inputFromForm(form, hydra, 1).input.overrides).toEqual(['seed=2', 'trainer.name="a b"']);
    expect(inputFromForm({ ...form, overrides: ['seed=3', '  '] }, hydra, 1).input.overrides).toEqual(['seed=3']);
    // An input from before overrides existed (or a job without them) sends none.
    expect(inputFromForm(formFromInput({ ...task, overrides: undefined } as unknown as JobInputValue, hydra, 'lab', { keepDescription: true }), hydra, 1).input.overrides).toEqual([]);
  });
});

describe('what a launch waits for', () => {
  it('sends each dependency with the one id it names, and offers aftercorr only from a sweep on a sweep', () => {
    const form: LaunchForm = { ...fresh(), dependsOn: [{ kind: 'AFTEROK', jobId: 12, sweepId: null }, { kind: 'AFTERCORR', jobId: null, sweepId: 3 }] };
    expect(inputFromForm(form, hydra, 1).input.dependsOn).toEqual([{ kind: 'AFTEROK', jobId: 12 }, { kind: 'AFTERCORR', sweepId: 3 }]);
    expect(dependencyKinds({ sweepId: 3 }, true)).toContain('AFTERCORR');
    expect(dependencyKinds({ sweepId: 3 }, false)).not.toContain('AFTERCORR');
    expect(dependencyKinds({ sweepId: null }, true)).not.toContain('AFTERCORR');
    expect(dependencyErrors(form.dependsOn, true)).toEqual({});
    expect(dependencyErrors(form.dependsOn, false)).toEqual({ 'dependsOn.1': AFTERCORR_NEEDS_SWEEPS });
  });

  it('does not carry the source’s dependencies into a clone', () => {
    expect(formFromInput(task, hydra, 'lab', { keepDescription: true }).dependsOn).toEqual([]);
  });
});

describe('controls kept across a recomposition', () => {
  it('keeps the previous object of an unchanged entry, and takes the new one where it changed', () => {
    const before = [parameter('seed', 'INT', 42), parameter('model.depth', 'INT', 18)];
    const after = [parameter('seed', 'INT', 42), parameter('model.depth', 'INT', 12), parameter('model.patch_size', 'INT', 16)];
    const kept = keepIdentity(before, after, (entry) => entry.path);
    expect(kept[0]).toBe(before[0]);
    expect(kept[1]).toBe(after[1]);
    expect(kept[2]).toBe(after[2]);
    expect(kept).toEqual(after);
  });
});
