import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSinfoPartitions, parseSlurmVersion } from './parse.js';

const recorded = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');

describe('parseSlurmVersion', () => {
  it("reads Debian's `slurm-wlm 22.05.8` and upstream's `slurm 23.11.4`", () => {
    expect(parseSlurmVersion(recorded('sinfo-version.txt'))).toBe('22.05.8');
    expect(parseSlurmVersion('slurm 23.11.4\n')).toBe('23.11.4');
    expect(parseSlurmVersion('sinfo: error: Unable to contact slurm controller\n')).toBeNull();
  });
});

describe('parseSinfoPartitions', () => {
  it('reads an idle lab: the default partition first, its star removed', () => {
    expect(parseSinfoPartitions(recorded('sinfo-partitions-idle.txt'))).toEqual([
      { name: 'gpu', isDefault: true, available: true, nodes: 2, states: [{ state: 'idle', nodes: 2 }] },
      { name: 'cpu', isDefault: false, available: true, nodes: 1, states: [{ state: 'idle', nodes: 1 }] },
    ]);
  });

  it('adds up the lines of one partition in different node states', () => {
    expect(parseSinfoPartitions(recorded('sinfo-partitions-mixed.txt'))[0]).toEqual({
      name: 'gpu',
      isDefault: true,
      available: true,
      nodes: 2,
      states: [
        { state: 'mix', nodes: 1 },
        { state: 'idle', nodes: 1 },
      ],
    });
  });

  it('marks a partition that is down and skips lines it cannot read', () => {
    expect(parseSinfoPartitions('debug|down|4|drain*\ngarbage\n|up|x|idle\n')).toEqual([
      { name: 'debug', isDefault: false, available: false, nodes: 4, states: [{ state: 'drain*', nodes: 4 }] },
    ]);
    expect(parseSinfoPartitions('')).toEqual([]);
  });

  // Found by parsers.property.test.ts: parseInt read "2abc" as 2 and a 20-digit count as an inexact 1e20.
  it('skips a node count that is not exactly a whole number', () => {
    expect(parseSinfoPartitions('gpu*|up|99999999999999999999|idle\ngpu*|up|2abc|mix\ncpu|up|1|idle\n')).toEqual([
      { name: 'cpu', isDefault: false, available: true, nodes: 1, states: [{ state: 'idle', nodes: 1 }] },
    ]);
  });
});
