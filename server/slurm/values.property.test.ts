// Properties of the validators every user value passes before it goes toward SLURM. What they accept lands in
// #SBATCH lines unquoted, so an accepted value must be inert there and on any command line: no shell syntax, no
// whitespace, no leading dash that sbatch could read as an option.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { count, freeText, memory, slurmName, timeLimit } from './values.js';

const INERT = /^[A-Za-z0-9][A-Za-z0-9._+:-]*$/;

const hostileChar = fc.constantFrom(...` \t\n\r\v\f\0'"\\$\`;|&<>(){}[]*?~!#=%^,@/`, '\u2028', '\u2029', '\u202e', '\u200b', '\ufeff', '\uff1b', '\uff10', '\u0660', '\u00a0', '\x7f', '\x1b');
const plainChar = fc.constantFrom(...'abcXYZ0123456789._+-:');
const mixedString = fc.string({ unit: fc.oneof(plainChar, hostileChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 30 });

// Valid-looking values with something stuck on, the usual shape of an injection attempt.
const nearly = (valid: fc.Arbitrary<string>) =>
  fc.oneof(
    valid,
    fc.tuple(valid, mixedString).map(([value, tail]) => value + tail),
    fc.tuple(mixedString, valid).map(([head, value]) => head + value),
    fc.tuple(valid, hostileChar, valid).map(([a, c, b]) => a + c + b),
  );

const anyInput = fc.oneof(
  { weight: 4, arbitrary: mixedString },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, NaN, Infinity, -0, 1.5, 2 ** 53, [], {}, ['1G'], { toString: () => '1G' }) },
);

/** Runs a validator; a refusal must be our ValidationError naming the field it was given. */
function outcome<T>(field: string, run: () => T): { accepted: T } | { refused: ValidationError } {
  try {
    return { accepted: run() };
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    expect((error as ValidationError).message.startsWith(`${field}: `)).toBe(true);
    return { refused: error as ValidationError };
  }
}

const memoryText = fc.tuple(fc.stringMatching(/^\d{1,10}$/), fc.constantFrom('', 'K', 'M', 'G', 'T', 'k', 'm', 'g', 't'), fc.constantFrom('', 'B', 'b')).map((parts) => parts.join(''));
const timeText = fc.oneof(
  fc.stringMatching(/^\d{1,7}$/),
  fc.stringMatching(/^\d{1,4}:\d{1,2}$/),
  fc.stringMatching(/^\d{1,4}:\d{1,2}:\d{1,2}$/),
  fc.stringMatching(/^\d{1,3}-\d{1,2}(:\d{1,2}){0,2}$/),
);
const nameText = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,70}$/);

// Thousands of generated cases per property: seconds on a loaded machine, beyond the default per-test limit.
describe('SLURM value validators, for any input', { timeout: 60_000 }, () => {
  it('slurmName accepts only inert names, verbatim, and names the field when refusing', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, nearly(nameText)), fc.constantFrom('partition', 'account', 'qos', 'gpuType', 'name'), (value, field) => {
        const result = outcome(field, () => slurmName(field, value));
        if ('accepted' in result) {
          expect(result.accepted).toBe(value);
          expect(result.accepted).toMatch(INERT);
          expect(result.accepted.length).toBeLessThanOrEqual(64);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('memory accepts only an inert size within SLURM limits', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, nearly(memoryText)), (value) => {
        const result = outcome('memory', () => memory('memory', value));
        if ('accepted' in result) {
          expect(result.accepted.text).toMatch(/^\d{1,9}[KMGT]?$/);
          expect(Number.isFinite(result.accepted.megabytes)).toBe(true);
          expect(result.accepted.megabytes).toBeGreaterThanOrEqual(1);
          expect(result.accepted.megabytes).toBeLessThanOrEqual(64 * 1024 * 1024);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('timeLimit accepts only an inert SLURM time within limits', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, nearly(timeText)), (value) => {
        const result = outcome('timeLimit', () => timeLimit('timeLimit', value));
        if ('accepted' in result) {
          expect(result.accepted.text).toMatch(/^\d+(?:-\d{1,2})?(?::\d{1,2}){0,2}$/);
          expect(result.accepted.minutes).toBeGreaterThan(0);
          expect(result.accepted.minutes).toBeLessThanOrEqual(366 * 1440);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('count accepts only whole numbers in range', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, fc.integer(), fc.double()), fc.integer({ min: -5, max: 5 }), fc.nat(2000), (value, min, span) => {
        const result = outcome('nodes', () => count('nodes', value, min, min + span));
        if ('accepted' in result) {
          expect(Number.isInteger(result.accepted)).toBe(true);
          expect(result.accepted).toBeGreaterThanOrEqual(min);
          expect(result.accepted).toBeLessThanOrEqual(min + span);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('freeText keeps accepted text verbatim, bounded, without control characters but tab and newline', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, fc.string({ unit: 'binary', maxLength: 80 })), fc.nat(60), (value, maxLength) => {
        const result = outcome('description', () => freeText('description', value, maxLength));
        if ('accepted' in result) {
          expect(result.accepted).toBe(value);
          expect(result.accepted.length).toBeLessThanOrEqual(maxLength);
          expect(result.accepted).not.toMatch(/[\0-\x08\x0b-\x1f\x7f]/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses every SLURM-looking value with something hostile stuck to it', () => {
    const injected = (valid: fc.Arbitrary<string>) =>
      fc.tuple(valid, fc.constantFrom(';', '\n', ' ', '$(id)', '`id`', '|', '&', '>', '\r', '\u2028', '\uff1b'), fc.boolean()).map(([value, bad, before]) => (before ? bad + value : value + bad));
    fc.assert(
      fc.property(injected(nameText), (value) => {
        expect('refused' in outcome('partition', () => slurmName('partition', value))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(injected(memoryText), (value) => {
        // Whitespace around a size is trimmed (a form field may keep a trailing space); it never reaches SLURM.
        const result = outcome('memory', () => memory('memory', value));
        if ('accepted' in result) expect(result.accepted.text).toMatch(/^\d{1,9}[KMGT]?$/);
      }),
    );
    fc.assert(
      fc.property(injected(timeText).filter((value) => value.trim() === value), (value) => {
        expect('refused' in outcome('timeLimit', () => timeLimit('timeLimit', value))).toBe(true);
      }),
    );
  });
});
