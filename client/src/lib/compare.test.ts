import { describe, expect, it } from 'vitest';
import { compareHref, configDifferences, configEntries, parseCompareIds, toggleSelected, type ComparedJob } from './compare';

const job = (change: Partial<ComparedJob['input']> = {}, commitSha = 'abcdef1234567890'): ComparedJob => ({
  cluster: 'lab',
  commitSha,
  input: {
    partition: null, nodes: 1, gpusPerNode: 1, gpuType: 'a100', cpusPerTask: 4, memory: '8G', timeLimit: '1:00:00', primary: 'train',
    groups: [{ group: 'model', option: 'resnet', options: null }], parameters: [{ path: 'lr', value: 0.01, add: false }], rawOverrides: '', overrides: [],
    ...change,
  },
});

describe('compare address', () => {
  it('reads 2 to 6 distinct job numbers', () => {
    expect(parseCompareIds('3,1,3, 2')).toEqual({ ids: [3, 1, 2], error: null });
    expect(parseCompareIds('4').error).toBe('Pick at least 2 jobs to compare.');
    expect(parseCompareIds(null).error).toBe('Pick at least 2 jobs to compare.');
    expect(parseCompareIds('1,2,3,4,5,6,7')).toEqual({ ids: [1, 2, 3, 4, 5, 6], error: 'At most 6 jobs are compared at once: the first 6 are shown.' });
    expect(parseCompareIds('1,x').error).toBe('“x” is not a job number: the address lists job numbers separated by commas (?jobs=12,15).');
    expect(parseCompareIds('0,1').error).toMatch(/^“0” is not a job number/);
    expect(compareHref([4, 9])).toBe('/compare?jobs=4,9');
  });

  it('selects up to six jobs and unselects on a second tap', () => {
    expect(toggleSelected([1, 2], 3)).toEqual([1, 2, 3]);
    expect(toggleSelected([1, 2, 3], 2)).toEqual([1, 3]);
    expect(toggleSelected([1, 2, 3, 4, 5, 6], 7)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('config differences', () => {
  it('lists a job’s settings as key and value, overrides word by word', () => {
    const entries = configEntries(job({ overrides: ['seed=3', 'model=vit'], rawOverrides: 'trainer.max_epochs=2', nodes: 2 }));
    expect([...entries]).toEqual([
      ['config', 'train'], ['model', 'vit'], ['lr', '0.01'], ['seed', '3'], ['overrides', 'trainer.max_epochs=2'],
      ['cluster', 'lab'], ['GPUs', '2 × 1 a100'], ['CPUs', '4'], ['memory', '8G'], ['time limit', '1:00:00'], ['commit', 'abcdef12'],
    ]);
  });

  it('keeps only what differs, a key one job lacks included, and counts the rest', () => {
    const { differences, same } = configDifferences([job(), job({ parameters: [{ path: 'lr', value: 0.1, add: false }, { path: 'dropout', value: 0.2, add: true }] }), job({}, '1234567890abcdef')]);
    expect(differences).toEqual([
      { key: 'lr', values: ['0.01', '0.1', '0.01'] },
      { key: '+dropout', values: [undefined, '0.2', undefined] },
      { key: 'commit', values: ['abcdef12', 'abcdef12', '12345678'] },
    ]);
    expect(same).toBe(7);
    expect(configDifferences([job(), job()]).differences).toEqual([]);
  });
});
