import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { includesArrayTask, parseArrayTaskId, parseFoldedArrayTasks, parseSinfoPartitions, parseSlurmVersion } from './parse.js';

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

describe('array task ids', () => {
  it('reads a task as squeue and sacct print it, and nothing else as a task', () => {
    expect(parseArrayTaskId('52_1')).toEqual({ arrayJobId: '52', index: 1 });
    expect(parseArrayTaskId('52')).toBeNull();
    expect(parseArrayTaskId('52_[2-3%2]')).toBeNull();
    expect(parseArrayTaskId('52_99999999999999999999')).toBeNull();
  });

  it("reads the lab's folded pending tasks with their throttle (squeue and sacct print 52_[2-3%2])", () => {
    const tasks = parseFoldedArrayTasks('52_[2-3%2]')!;
    expect(tasks).toEqual({ arrayJobId: '52', ranges: [{ first: 2, last: 3, step: 1 }], throttle: 2 });
    expect([1, 2, 3, 4].map((index) => includesArrayTask(tasks, index))).toEqual([false, true, true, false]);
  });

  it('reads lists, ranges and steps, with or without a throttle', () => {
    const list = parseFoldedArrayTasks('123_[1,3,5-7]')!;
    expect(list.throttle).toBeNull();
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].filter((index) => includesArrayTask(list, index))).toEqual([1, 3, 5, 6, 7]);
    const stepped = parseFoldedArrayTasks('123_[0-10:5%1]')!;
    expect(stepped.throttle).toBe(1);
    expect([0, 1, 5, 10, 11].filter((index) => includesArrayTask(stepped, index))).toEqual([0, 5, 10]);
    expect(parseFoldedArrayTasks('123_4')).toBeNull();
    expect(parseFoldedArrayTasks('123')).toBeNull();
  });

  it('answers for a 1,000-task array without unfolding it, and claims no task from a cut or garbled expression', () => {
    const array = parseFoldedArrayTasks('900_[64-999%64]')!;
    expect(array.ranges).toHaveLength(1);
    expect(includesArrayTask(array, 999) && includesArrayTask(array, 64) && !includesArrayTask(array, 63) && !includesArrayTask(array, 1000)).toBe(true);
    // SLURM cuts an expression longer than SLURM_BITSTR_LEN with "..."; the tasks after the cut are not known here.
    const cut = parseFoldedArrayTasks('7_[1,3,...]')!;
    expect(cut.ranges).toEqual([{ first: 1, last: 1, step: 1 }, { first: 3, last: 3, step: 1 }]);
    expect(parseFoldedArrayTasks('1_[0-99999999999999999999]')!.ranges).toEqual([]);
    expect(parseFoldedArrayTasks('1_[9-2,4:0]')!.ranges).toEqual([]);
  });
});
