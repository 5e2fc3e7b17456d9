import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { count, freeText, memory, slurmName, timeLimit } from './values.js';

function rejection(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('SLURM value validators', () => {
  it('accept SLURM memory sizes and normalize the unit', () => {
    expect(memory('memory', '64G')).toEqual({ text: '64G', megabytes: 65536 });
    expect(memory('memory', '500m')).toEqual({ text: '500M', megabytes: 500 });
    expect(memory('memory', '2048')).toEqual({ text: '2048', megabytes: 2048 });
    expect(memory('memory', '1TB')).toEqual({ text: '1T', megabytes: 1048576 });
    for (const bad of ['', '16 G', '16GiB', '-1G', '1.5G', '0', '16G; rm -rf ~', '$(id)', 16]) {
      expect(rejection(() => memory('memory', bad)).field).toBe('memory');
    }
  });

  it('accept every SLURM time format and reject the rest', () => {
    expect(timeLimit('timeLimit', '30').minutes).toBe(30);
    expect(timeLimit('timeLimit', '10:30').minutes).toBe(10.5);
    expect(timeLimit('timeLimit', '4:00:00').minutes).toBe(240);
    expect(timeLimit('timeLimit', '2-00').minutes).toBe(2880);
    expect(timeLimit('timeLimit', '1-02:03').minutes).toBe(1563);
    expect(timeLimit('timeLimit', '1-00:00:30').minutes).toBe(1440.5);
    for (const bad of ['', 'abc', '0', '1:2:3:4', '1-', '-1', '400-00:00:00', '1h', '`date`', '1\n2']) {
      const error = rejection(() => timeLimit('timeLimit', bad));
      expect(error.field).toBe('timeLimit');
    }
  });

  it('accept plain names and name the field when refusing shell syntax', () => {
    expect(slurmName('partition', 'gpu')).toBe('gpu');
    expect(slurmName('jobName', 'resnet50.lr-3e-4_v2+aug')).toBe('resnet50.lr-3e-4_v2+aug');
    for (const bad of ['', ' gpu', 'gpu;id', '$(id)', '`id`', "it's", 'a b', 'line\nbreak', '--wrap=id', '-p', 'ｇｐｕ', 'x'.repeat(65)]) {
      const error = rejection(() => slurmName('partition', bad));
      expect(error.field).toBe('partition');
      expect(error.message.startsWith('partition: ')).toBe(true);
    }
  });

  it('bound counts and free text', () => {
    expect(count('nodes', 2, 1, 64)).toBe(2);
    for (const bad of [0, 65, 1.5, '2', Number.NaN]) expect(rejection(() => count('nodes', bad, 1, 64)).field).toBe('nodes');
    expect(freeText('description', 'lr sweep $(not run) "quoted"\nsecond line', 500)).toContain('$(not run)');
    expect(rejection(() => freeText('description', 'a\0b', 500)).message).toBe('description: must not contain control characters');
    expect(rejection(() => freeText('description', 'x'.repeat(501), 500)).field).toBe('description');
  });
});
