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

  it('reads the lab\'s comma lists and steps (squeue printed 2084_[6-7,20,25,30%1] and 2085_[0-200:2%1])', () => {
    const ids = recorded('squeue-array-tasks.txt').split('\n').map((line) => line.split('|')[0]!);
    const list = parseFoldedArrayTasks(ids.find((id) => id.startsWith('2084_['))!)!;
    expect(list).toEqual({ arrayJobId: '2084', ranges: [{ first: 6, last: 7, step: 1 }, { first: 20, last: 20, step: 1 }, { first: 25, last: 25, step: 1 }, { first: 30, last: 30, step: 1 }], throttle: 1 });
    const stepped = parseFoldedArrayTasks(ids.find((id) => id.startsWith('2085_['))!)!;
    expect([0, 1, 2, 198, 200, 201, 202].filter((index) => includesArrayTask(stepped, index))).toEqual([0, 2, 198, 200]);
    expect(parseFoldedArrayTasks(ids.find((id) => id.startsWith('2086_['))!)).toEqual({ arrayJobId: '2086', ranges: [{ first: 0, last: 999, step: 1 }], throttle: 64 });
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
    // The lab's squeue without SLURM_BITSTR_LEN=0 cuts the id at 64 bytes, mid-number: no task can be trusted from it.
    expect(parseFoldedArrayTasks(recorded('squeue-array-cut.txt').split('|')[0]!)).toBeNull();
    expect(parseFoldedArrayTasks('7_[1,x,3]')!.ranges).toEqual([{ first: 1, last: 1, step: 1 }, { first: 3, last: 3, step: 1 }]);
    expect(parseFoldedArrayTasks('1_[0-99999999999999999999]')!.ranges).toEqual([]);
    expect(parseFoldedArrayTasks('1_[9-2,4:0]')!.ranges).toEqual([]);
  });
});
