// Properties of the Hydra override tokenizer and grammar over random, grammar-shaped and truncated input: every
// refusal is an OverrideParseError pointing inside the input (never a TypeError or RangeError from an index that
// ran off the end), and what is accepted survives formatting and reading back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatOverride, hydraValue, OverrideParseError, parseHydraValue, parseOverride, parseOverrides } from './overrides.js';

// Overrides Hydra 1.3 accepts, to cut and splice (see overrides.test.ts for what each means).
const VALID = [
  'model=resnet',
  '+trainer.max_epochs=10',
  '++a.b=1',
  '~db',
  '~db=mysql',
  'key=',
  'model/encoder=large',
  'data@dataset=imagenet',
  'data@=imagenet',
  'server/db@backup.primary=mysql',
  '$db=1',
  'layers.0.width=8',
  'lr=1e-3',
  'x=-inf',
  'steps=1_000',
  'a=[1, 2]',
  "b='x y'",
  'b="it\\"s"',
  'c={a: 1, b: [x, y], c: {}}',
  'd=a,b,c',
  'e=choice(1, 2)',
  'f=range(start=1, stop=10, step=2)',
  'h=glob([a*, b*], exclude=bx)',
  'k=tag(fast, choice(a,b))',
  'l=${oc.env:USER,me}',
  'm=/path/to/file-1.txt',
  'o=  spaced out  ',
  'p=trailing\\ ',
  'r=job\\{a\\=1\\,b\\=2\\}',
  's=user@host:/dir?x%20*',
];

const GRAMMAR_PIECES = [
  '=', '+', '++', '~', '@', '/', '.', ':', ',', '(', ')', '[', ']', '{', '}', "'", '"', '\\', '\\\\', '\\ ', '${', '}', ' ', '\t',
  'a', 'db', 'x_1', '$k', '0', '1_0', '-1', '1e5', '.5', 'inf', 'nan', 'true', 'null', 'choice', 'range', 'glob', 'int',
  '*', '?', '|', '%', '-', '\n', '\r', '\0', ';', '$(id)', '`id`', '\u2028', '\u202e', '\uff1d', '\u200b', 'é',
];
const grammarShaped = fc.array(fc.constantFrom(...GRAMMAR_PIECES), { maxLength: 25 }).map((pieces) => pieces.join(''));
const randomText = fc.string({ unit: 'binary', maxLength: 40 });
const truncated = fc.constantFrom(...VALID).chain((text) => fc.tuple(fc.nat(text.length), fc.nat(text.length)).map(([a, b]) => text.slice(Math.min(a, b), Math.max(a, b))));
const spliced = fc
  .tuple(fc.constantFrom(...VALID), fc.nat(), fc.constantFrom(...GRAMMAR_PIECES))
  .map(([text, at, piece]) => text.slice(0, at % (text.length + 1)) + piece + text.slice(at % (text.length + 1)));
// Containers and calls opened (and maybe closed) thousands of times: deep enough to exhaust a recursive parser's stack.
const nestedTo = (maxDepth: number) =>
  fc
    .tuple(fc.constantFrom('x=', '', '+a.b=', 'x=[1,'), fc.constantFrom('[', '{a:', 'choice(', 'glob([', '{a:[', 'tag(t,'), fc.integer({ min: 1, max: maxDepth }), fc.boolean())
    .map(([prefix, open, depth, closed]) => prefix + open.repeat(depth) + (closed ? '1' + ']})'.repeat(depth) : ''));
const anyInput = fc.oneof(grammarShaped, randomText, truncated, spliced, fc.constantFrom(...VALID), nestedTo(300));

/** The parser either answers or refuses with our error, pointing at a place inside what it was given. */
function parsedOrRefused<T>(input: string, parse: () => T): T | null {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof OverrideParseError)) throw error;
    expect(error.position).toBeGreaterThanOrEqual(0);
    expect(error.position).toBeLessThanOrEqual(input.length);
    expect(error.message.length).toBeGreaterThan(0);
    return null;
  }
}

// Thousands of generated cases per property: seconds on a loaded machine, beyond the default per-test limit.
describe('Hydra override grammar, for any input', { timeout: 60_000 }, () => {
  it('parseOverride answers or refuses with an OverrideParseError', () => {
    fc.assert(
      fc.property(anyInput, (text) => {
        parsedOrRefused(text, () => parseOverride(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('parseOverrides (a typed field of several overrides) answers or refuses with an OverrideParseError', () => {
    const field = fc.array(anyInput, { maxLength: 4 }).chain((parts) => fc.constantFrom(' ', '\n', '\t', '  ').map((separator) => parts.join(separator)));
    fc.assert(
      fc.property(field, (text) => {
        parsedOrRefused(text, () => parseOverrides(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('parseHydraValue answers or refuses with an OverrideParseError', () => {
    const values = fc.oneof(anyInput, truncated.map((text) => text.slice(text.indexOf('=') + 1)));
    fc.assert(
      fc.property(values, (text) => {
        parsedOrRefused(text, () => parseHydraValue(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses values nested deeper than any config needs with an OverrideParseError, not a stack overflow', () => {
    fc.assert(
      fc.property(nestedTo(20_000), (text) => {
        parsedOrRefused(text, () => parseOverride(text));
        parsedOrRefused(text, () => parseOverrides(text));
        parsedOrRefused(text, () => parseHydraValue(text.slice(text.indexOf('=') + 1)));
      }),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.boolean(), (depth, asList) => {
        let value: unknown = 'leaf';
        for (let i = 0; i < depth; i++) value = asList ? [value] : { k: value };
        try {
          expect(parseHydraValue(hydraValue(value))).toEqual(value);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
          expect(String(error)).toMatch(/nested/);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('formats every accepted override into text that reads back as the same override', () => {
    fc.assert(
      fc.property(anyInput, (text) => {
        const parsed = parsedOrRefused(text, () => parseOverride(text));
        if (!parsed) return;
        const formatted = parsedOrRefused(text, () => formatOverride(parsed));
        if (formatted === null) return;
        const again = parseOverride(formatted);
        expect(again).toEqual({ ...parsed, value: parsed.value === null && parsed.prefix !== '~' ? '' : parsed.value });
      }),
      { numRuns: 5000 },
    );
  });

  it('spells form values so Hydra reads back the same value, or refuses with a TypeError', () => {
    const noNegativeZero = (value: unknown): unknown =>
      Object.is(value, -0) ? 0 : Array.isArray(value) ? value.map(noNegativeZero) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, noNegativeZero(v)])) : value;
    const formValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: fc.constantFrom(...GRAMMAR_PIECES), maxLength: 10 }), fc.double());
    fc.assert(
      fc.property(formValue, (raw) => {
        const value = noNegativeZero(raw);
        let text: string;
        try {
          text = hydraValue(value);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
          return;
        }
        expect(parseHydraValue(text)).toEqual(value);
        expect(parseOverrides(`key=${text}`)).toEqual([{ prefix: '', key: 'key', package: null, value: text }]);
      }),
      { numRuns: 5000 },
    );
  });
});
