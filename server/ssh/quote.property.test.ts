// Properties of the one function that turns argv into shell text, over arbitrary strings: a model of the POSIX
// quoting rules checks every generated case, and real shells (dash as /bin/sh, and bash, the usual login shell that
// sshd hands the command to) check a sample, since the model could share a misunderstanding with the code.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteArg, quoteArgv } from './quote.js';

/** Characters a shell treats specially somewhere, over-represented so the generator does not miss them. */
const SHELL_SPECIAL = [...` \t\n\r'"\\$\`;|&<>(){}[]*?~!#=%^,:@+-./`, '\u2028', '\u202e', '\u200b', '\uff1b', '\u00a0'];
const char = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SHELL_SPECIAL) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...'aZ09_') },
);
const noNul = (text: string) => !text.includes('\0');
const shellString = fc.string({ unit: char, maxLength: 40 }).filter(noNul);
const anyString = fc.string({ unit: 'binary', maxLength: 60 }).filter(noNul);
const argument = fc.oneof(shellString, anyString);

/**
 * Reads shell words the way POSIX sh does for the only forms quoteArg may produce: bare characters, '…' runs and
 * \' between them. Anything else (an unquoted $, ;, space inside a word…) is reported, since a shell would act on it.
 */
function parseWords(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let at = 0; at < text.length; ) {
    const c = text[at]!;
    if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
      at++;
    } else if (c === "'") {
      const end = text.indexOf("'", at + 1);
      if (end < 0) throw new Error(`unterminated quote at ${at}`);
      word = (word ?? '') + text.slice(at + 1, end);
      at = end + 1;
    } else if (c === '\\' && text[at + 1] === "'") {
      word = (word ?? '') + "'";
      at += 2;
    } else if (/[A-Za-z0-9_@%+=:,./-]/.test(c)) {
      word = (word ?? '') + c;
      at++;
    } else {
      throw new Error(`unquoted ${JSON.stringify(c)} at ${at} in ${JSON.stringify(text)}`);
    }
  }
  if (word !== null) words.push(word);
  return words;
}

function runShell(shell: string, script: string): string {
  const result = spawnSync(shell, ['-c', script], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

const shells = ['/bin/sh', '/bin/bash'].filter((shell) => existsSync(shell));

// Thousands of generated cases per property: seconds on a loaded machine, beyond the default per-test limit.
describe('quoteArg, for any string', { timeout: 60_000 }, () => {
  it('gives one shell word that reads back as the string', () => {
    fc.assert(
      fc.property(argument, (arg) => {
        expect(parseWords(quoteArg(arg))).toEqual([arg]);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads back as the same argv, one word per argument, in argv order', () => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 8 }), (argv) => {
        expect(parseWords(quoteArgv(argv))).toEqual(argv);
      }),
      { numRuns: 2000 },
    );
  });

  // One shell per batch of arguments: starting a shell per case would dominate the run time.
  it.each(shells)('round-trips each argument exactly through %s, as exactly one word', (shell) => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 40, maxLength: 40 }), (args) => {
        const script = args.map((arg) => `printf %s ${quoteArg(arg)}; printf '\\0'; set -- ${quoteArg(arg)}; printf '%s\\0' "$#"`).join('\n');
        expect(runShell(shell, script).split('\0').slice(0, -1)).toEqual(args.flatMap((arg) => [arg, '1']));
      }),
      { numRuns: 10 },
    );
  });

  it.each(shells)('passes a whole argv through %s unchanged', (shell) => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 6 }), (argv) => {
        expect(runShell(shell, `printf '%s\\0' ${quoteArgv(argv)}`).split('\0').slice(0, -1)).toEqual(argv);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses any string with a NUL byte, which no shell word can hold, with a TypeError', () => {
    fc.assert(
      fc.property(anyString, anyString, (before, after) => {
        const arg = `${before}\0${after}`;
        expect(() => quoteArg(arg)).toThrow(TypeError);
        expect(() => quoteArg(arg)).toThrow(/NUL/);
        expect(() => quoteArgv(['echo', arg])).toThrow(/NUL/);
      }),
      { numRuns: 500 },
    );
  });
});
