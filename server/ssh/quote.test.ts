import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quoteArg, quoteArgv } from './quote.js';

/** Lets a real POSIX shell parse the quoted text back into argv, the way sshd's login shell will. */
function parsedByShell(argv: string[]): string[] {
  const result = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${quoteArgv(argv)}`], { encoding: 'utf8' });
  expect(result.status).toBe(0);
  return result.stdout.split('\0').slice(0, -1);
}

const hostile = [
  '$(touch /tmp/mc-canary)',
  '`touch /tmp/mc-canary`',
  'a; touch /tmp/mc-canary',
  "it's",
  '"double"',
  'line\nbreak',
  '--wrap=touch /tmp/mc-canary',
  '',
  ' leading and trailing ',
  '*',
  '~',
  '$HOME',
  '\\',
  'ｓｌｕｒｍ', // full-width look-alikes
  'tab\there',
  "'''",
  '!event',
  'a'.repeat(10_000),
];

describe('quoteArgv', () => {
  it('round-trips every argument through a real shell unchanged', () => {
    expect(parsedByShell(hostile)).toEqual(hostile);
  });

  it('leaves plain words readable and quotes the rest', () => {
    expect(quoteArgv(['sinfo', '-h', '-o', '%P|%a'])).toBe("sinfo -h -o '%P|%a'");
    expect(quoteArg('gpu:a100:2')).toBe('gpu:a100:2');
    expect(quoteArg('')).toBe("''");
  });

  it('refuses what no shell can carry', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/);
    expect(() => quoteArgv([])).toThrow(/empty/);
  });
});
