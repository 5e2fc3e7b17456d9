import { describe, expect, it } from 'vitest';
import { SweepTooLargeError, ValidationError } from '../../errors.js';
import { planSweep, pythonFloatText, sweeperParams, type SweepOptions } from './sweep.js';

const options: SweepOptions = { limit: 1000, groupOptions: (group) => ({ model: ['cnn', 'resnet', 'vit'] })[group] };
const runs = (overrides: string[], extra: Partial<SweepOptions> = {}) => planSweep(overrides, { ...options, ...extra }).runs;

function refusal(overrides: string[], extra: Partial<SweepOptions> = {}): ValidationError {
  try {
    planSweep(overrides, { ...options, ...extra });
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`${overrides.join(' ')} was not refused`);
}

describe('planSweep', () => {
  it('is the cartesian product, the first key varying slowest', () => {
    const plan = planSweep(['seed=1,2,3', 'model=resnet,vit', 'epochs=5'], options);
    expect(plan.count).toBe(6);
    expect(plan.runs).toEqual([
      ['seed=1', 'model=resnet', 'epochs=5'],
      ['seed=1', 'model=vit', 'epochs=5'],
      ['seed=2', 'model=resnet', 'epochs=5'],
      ['seed=2', 'model=vit', 'epochs=5'],
      ['seed=3', 'model=resnet', 'epochs=5'],
      ['seed=3', 'model=vit', 'epochs=5'],
    ]);
    expect(plan.varying).toEqual(['seed', 'model']);
  });

  it('spells values as Python prints them', () => {
    expect(runs(['flag=true,false', 'lr=1.50,1e-5,1e16', 'name=a\\ b,"q"', 'x= 7'])[0]).toEqual(['flag=True', 'lr=1.5', 'name=a\\ b', 'x=7']);
    expect(planSweep(['lr=1.50,1e-5,1e16'], options).dimensions[0]!.overrides).toEqual(['lr=1.5', 'lr=1e-05', 'lr=1e+16']);
    expect(runs(['name="q",\'r\''])).toEqual([['name="q"'], ["name='r'"]]);
  });

  it('ranges: ints as Python range, floats stepped in 28-digit decimals', () => {
    expect(runs(['a=range(3)']).flat()).toEqual(['a=0', 'a=1', 'a=2']);
    expect(runs(['a=range(10,0,-4)']).flat()).toEqual(['a=10', 'a=6', 'a=2']);
    expect(runs(['a=range(0,1,0.25)']).flat()).toEqual(['a=0.0', 'a=0.25', 'a=0.5', 'a=0.75']);
    expect(runs(['a=range(0,1,0.1)']).flat()[7]).toBe('a=0.7000000000000001');
    expect(runs(['a=sort(range(1,4),reverse=true)']).flat()).toEqual(['a=3', 'a=2', 'a=1']);
  });

  it('choice, sort, tag, casts and glob over the group options', () => {
    expect(runs(['a=choice(b,[1,2],{k:v})']).flat()).toEqual(['a=b', 'a=[1,2]', 'a={k:v}']);
    expect(runs(['a=sort(3,1,2)']).flat()).toEqual(['a=1', 'a=2', 'a=3']);
    expect(runs(['a=tag(t1,choice(1,2))']).flat()).toEqual(['a=1', 'a=2']);
    expect(runs(['a=int(1.9,2.1)']).flat()).toEqual(['a=1', 'a=2']);
    expect(runs(['model=glob(*,exclude=cnn)']).flat()).toEqual(['model=resnet', 'model=vit']);
  });

  it('shuffle sweeps every value once, in the order of the given random source', () => {
    const shuffled = runs(['a=shuffle(1,2,3,4)'], { random: () => 0 }).flat();
    expect([...shuffled].sort()).toEqual(['a=1', 'a=2', 'a=3', 'a=4']);
    expect(shuffled).toEqual(['a=2', 'a=3', 'a=4', 'a=1']);
  });

  it('a repeated key keeps its first place and takes the last value; ~key alone is sent as ~key=null', () => {
    expect(runs(['a=x', 'b=1,2', 'a=5', '~c'])).toEqual([
      ['a=5', 'b=1', '~c=null'],
      ['a=5', 'b=2', '~c=null'],
    ]);
  });

  it('reads hydra.sweeper.params as the default sweep, before the typed overrides', () => {
    const params = sweeperParams({ sweeper: { params: { lr: '0.1,0.01', seed: 3, fast: true } } });
    expect(runs(['seed=1,2'], { params })).toEqual([
      ['lr=0.1', 'seed=1', 'fast=True'],
      ['lr=0.1', 'seed=2', 'fast=True'],
      ['lr=0.01', 'seed=1', 'fast=True'],
      ['lr=0.01', 'seed=2', 'fast=True'],
    ]);
    expect(sweeperParams({ run: {} })).toBeNull();
    expect(() => sweeperParams({ sweeper: { params: 'a=1' } })).toThrow(ValidationError);
  });

  it('refuses what BasicSweeper refuses, on the field of the key', () => {
    expect(refusal(['a=interval(0,1)']).field).toBe('sweep.a');
    expect(refusal(['a=interval(0,1)']).message).toMatch(/does not support sweep type : INTERVAL_SWEEP/);
    expect(refusal(['a=1,choice(2,3)']).field).toBe('sweep.a');
    expect(refusal(['a=[choice(2,3)]']).field).toBe('sweep.a');
    expect(refusal(['a=range(1,5,0)']).message).toMatch(/must not be zero/);
    expect(refusal(['a=sort(1,b)']).message).toMatch(/not supported between/);
    expect(refusal(['a=choice(1,2']).field).toBe('rawOverrides');
    expect(refusal(['lr=glob(*)']).message).toMatch(/"lr" is no config group: lr sweeps over no values/);
    expect(runs(['lr=glob(*)', 'lr=1,2']).flat()).toEqual(['lr=1', 'lr=2']);
    expect(refusal(['a=range(0)']).message).toMatch(/no runs/);
    expect(refusal([], { params: { lr: 'choice(' } }).field).toBe('sweep.lr');
  });

  it('refuses a sweep over the limit before building it, even an endless one', () => {
    const error = refusal(['a=range(100000000)', 'b=range(100000000)']);
    expect(error).toBeInstanceOf(SweepTooLargeError);
    expect((error as SweepTooLargeError).runs).toBe(1e16);
    expect(error.message).toMatch(/limit of 1000/);
    const endless = refusal(['a=range(0,inf,0.5)']) as SweepTooLargeError;
    expect(endless.runs).toBeNull();
    expect(refusal(['a=range(0,1000,0.5)'])).toBeInstanceOf(SweepTooLargeError);
    expect(planSweep(['a=range(1000)'], options).count).toBe(1000);
    expect(refusal(['a=range(1001)'])).toBeInstanceOf(SweepTooLargeError);
    // A float range far past the limit is refused without walking it (walking 10^6 decimal steps takes seconds).
    const started = performance.now();
    expect(refusal(['a=range(0,1e9,1.0)'], { limit: 1_000_000 })).toBeInstanceOf(SweepTooLargeError);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('pythonFloatText', () => {
  it.each([
    [1, '1.0'], [0.1, '0.1'], [1e-5, '1e-05'], [1e16, '1e+16'], [123456789012345.6, '123456789012345.6'], [1.5e-7, '1.5e-07'], [-0, '-0.0'],
    [Infinity, 'inf'], [NaN, 'nan'], [0.0001, '0.0001'], [1e22, '1e+22'],
  ])('%s → %s', (value, text) => {
    expect(pythonFloatText(value)).toBe(text);
  });
});
