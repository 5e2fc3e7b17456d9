// Properties of a whole launch form with hostile values in every field: it becomes sbatch resources and Hydra argv,
// or is refused with a ValidationError naming the field at fault. Nothing else may escape: an untyped error is
// masked by the server as "Unexpected error", which tells the user nothing about which field to fix.
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { readHydraConfig, type HydraConfig } from '../projects/hydra/config.js';
import { parseHydraValue, parseOverride } from '../projects/hydra/overrides.js';
import { buildHydraArgs, validateDescription, validateResources, type JobInput } from './input.js';
import { defaultSettings } from '../projects/settings.js';
import { quoteArgv } from '../ssh/quote.js';
import { jobInput } from '../../test/factories.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/ml-project', import.meta.url));

const HOSTILE_PIECES = [
  ';', '|', '&', '>', '<', '$(touch /tmp/x)', '`id`', '\n', '\r', '\0', '\t', ' ', "'", '"', '\\', '*', '?', '[', ']', '{', '}',
  '(', ')', '=', ',', ':', '@', '~', '+', '++', '%20', '%', '--wrap=id', '-o /tmp/x', '-', '${oc.env:HOME}', '#', '!',
  '\uff1b', '\u2028', '\u202e', '\u200b', '\ufeff', '\x1b[31m', '\x7f', 'é', 'model', 'seed', 'vit', '1', '4G', '5:00',
];
const hostile = fc.oneof(
  fc.array(fc.constantFrom(...HOSTILE_PIECES), { maxLength: 6 }).map((pieces) => pieces.join('')),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const optionalHostile = fc.option(hostile, { nil: null });
const jsonish = fc.oneof(
  hostile,
  fc.jsonValue({ maxDepth: 2 }),
  fc.dictionary(hostile, fc.oneof(hostile, fc.integer()), { maxKeys: 3 }),
  fc.array(hostile, { maxLength: 3 }),
  // As deep as a JSON request body allows: the value is spelled recursively.
  fc.integer({ min: 1, max: 20_000 }).map((depth) => {
    let value: unknown = 'leaf';
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  }),
);

// Mostly valid values with a few hostile ones, so that most forms get past the first field and every later check runs.
const mostly = <T, U>(valid: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: bad });
const formInput = fc.record({
  name: mostly(fc.constantFrom(null, 'run-1'), optionalHostile),
  description: mostly(fc.constantFrom('', 'a plain note'), hostile),
  partition: mostly(fc.constantFrom(null, 'gpu'), optionalHostile),
  account: mostly(fc.constant(null), optionalHostile),
  qos: mostly(fc.constant(null), optionalHostile),
  gpuType: mostly(fc.constantFrom(null, 'a100'), optionalHostile),
  memory: mostly(fc.constant('4G'), hostile),
  timeLimit: mostly(fc.constant('5:00'), hostile),
  groups: fc.array(
    fc.record({ group: mostly(fc.constantFrom('model', 'optimizer', 'scheduler', 'model/encoder'), hostile), option: mostly(fc.constantFrom('vit', 'sgd', 'large', null), optionalHostile) }),
    { maxLength: 2 },
  ),
  parameters: fc.array(fc.record({ path: mostly(fc.constantFrom('seed', 'run_note', 'optimizer.lr', 'tags'), hostile), value: jsonish }), { maxLength: 3 }),
  rawOverrides: mostly(fc.constantFrom('seed=7', 'seed=7 epochs=2', ''), hostile),
});

const baseInput: JobInput = jobInput(1, { cluster: 'lab', timeLimit: '5:00', primary: 'train' });

const FIELDS = /^(?:name|description|partition|account|qos|gpuType|memory|timeLimit|rawOverrides|primary|groups\..*|parameters\..*)$/s;

// Thousands of generated cases per property: seconds on a loaded machine, beyond the default per-test limit.
describe('a launch form with hostile values', { timeout: 60_000 }, () => {
  let hydra: HydraConfig;
  beforeAll(async () => {
    hydra = await readHydraConfig(fixture, 'train');
  });

  function prepare(input: JobInput): string[] {
    const description = validateDescription(input);
    validateResources(input, 'ml-project');
    return buildHydraArgs(input, hydra, defaultSettings, description);
  }

  it('becomes Hydra argv a shell can carry, or a ValidationError naming a field of the form', () => {
    fc.assert(
      fc.property(formInput, (form) => {
        const input = { ...baseInput, ...form };
        let args: string[];
        try {
          args = prepare(input);
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          expect(error.field).toMatch(FIELDS);
          return;
        }
        // The argv goes through the one quoting function, which refuses NUL: it must never see one.
        expect(() => quoteArgv(['python', 'train.py', ...args])).not.toThrow();
        expect(args.slice(0, 2)).toEqual(['--config-name', 'train']);
        for (const arg of args.slice(2)) expect(() => parseOverride(arg)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('passes every accepted string parameter to Hydra verbatim', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        let args: string[];
        try {
          args = prepare({ ...baseInput, parameters: [{ path: 'run_note', value: text }] });
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          expect(error.field).toBe('parameters.run_note');
          return;
        }
        const token = args.find((arg) => arg.startsWith('+run_note='))!;
        expect(parseHydraValue(parseOverride(token).value!)).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });
});
