import { describe, expect, it } from 'vitest';
import { HYDRA_VERDICTS } from '../../../test/hydra/override-corpus.js';
import { formatOverride, hydraValue, OverrideParseError, parseHydraValue, parseOverride, parseOverrides, type Override } from './overrides.js';

const set = (key: string, value: string, pkg: string | null = null): Override => ({ prefix: '', key, package: pkg, value });

function parseError(run: () => unknown): OverrideParseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OverrideParseError);
    return error as OverrideParseError;
  }
  throw new Error('expected an OverrideParseError');
}

// What Hydra 1.3's OverrideParser accepts; each row is one argv entry.
const accepted: [string, Override][] = [
  ['model=resnet', set('model', 'resnet')],
  ['db.user=root', set('db.user', 'root')],
  ['+trainer.max_epochs=10', { prefix: '+', key: 'trainer.max_epochs', package: null, value: '10' }],
  ['++a.b=1', { prefix: '++', key: 'a.b', package: null, value: '1' }],
  ['~db', { prefix: '~', key: 'db', package: null, value: null }],
  ['~db=mysql', { prefix: '~', key: 'db', package: null, value: 'mysql' }],
  ['~db=', { prefix: '~', key: 'db', package: null, value: '' }],
  ['key=', set('key', '')],
  ['model/encoder=large', set('model/encoder', 'large')],
  ['hydra/launcher=submitit_slurm', set('hydra/launcher', 'submitit_slurm')],
  ['data@dataset=imagenet', set('data', 'imagenet', 'dataset')],
  ['data@=imagenet', set('data', 'imagenet', '')],
  ['server/db@backup.primary=mysql', set('server/db', 'mysql', 'backup.primary')],
  ['$db=1', set('$db', '1')],
  ['my-key.sub_key=1', set('my-key.sub_key', '1')],
  ['layers.0.width=8', set('layers.0.width', '8')],
  ['lr=1e-3', set('lr', '1e-3')],
  ['x=-inf', set('x', '-inf')],
  ['x=NaN', set('x', 'NaN')],
  ['steps=1_000', set('steps', '1_000')],
  ['a=[1, 2]', set('a', '[1, 2]')],
  ["b='x y'", set('b', "'x y'")],
  ['c={a: 1, b: [x, y], c: {}}', set('c', '{a: 1, b: [x, y], c: {}}')],
  ['d=a,b,c', set('d', 'a,b,c')],
  ['d=[a,b],[c,d]', set('d', '[a,b],[c,d]')],
  ['e=choice(1, 2)', set('e', 'choice(1, 2)')],
  ['e=range (1,3)', set('e', 'range (1,3)')],
  ['f=range(start=1, stop=10, step=2)', set('f', 'range(start=1, stop=10, step=2)')],
  ['g=interval(0.1, 1.0)', set('g', 'interval(0.1, 1.0)')],
  ['h=glob(*)', set('h', 'glob(*)')],
  ['h=glob([a*, b*], exclude=bx)', set('h', 'glob([a*, b*], exclude=bx)')],
  ['i=sort(3,1,2,reverse=true)', set('i', 'sort(3,1,2,reverse=true)')],
  ['j=shuffle([a,b])', set('j', 'shuffle([a,b])')],
  ['k=tag(fast, choice(a,b))', set('k', 'tag(fast, choice(a,b))')],
  ['l=${oc.env:USER,me}', set('l', '${oc.env:USER,me}')],
  ['m=/path/to/file-1.txt', set('m', '/path/to/file-1.txt')],
  ['n=hello world', set('n', 'hello world')],
  ['o=  spaced out  ', set('o', 'spaced out')],
  ['p=trailing\\ ', set('p', 'trailing\\ ')],
  ['q=x|y', set('q', 'x|y')],
  ['r=job\\{a\\=1\\,b\\=2\\}', set('r', 'job\\{a\\=1\\,b\\=2\\}')],
  ['s=user@host:/dir?x%20*', set('s', 'user@host:/dir?x%20*')],
  ['t=a:b', set('t', 'a:b')],
  [`u="it's"`, set('u', `"it's"`)],
  [`v='say "hi"'`, set('v', `'say "hi"'`)],
  ['w="escaped \\"quote\\""', set('w', '"escaped \\"quote\\""')],
  ['y="C:\\\\"', set('y', '"C:\\\\"')],
  ['z="1,2",\'3,4\'', set('z', '"1,2",\'3,4\'')],
  ['tab=a\tb', set('tab', 'a\tb')],
];

// What Hydra refuses, with the message a user sees.
const refused: [string, RegExp, number][] = [
  ['lr=$(touch x)', /^unexpected "\(" at column 5 in "lr=\$\(touch x\)"/, 4],
  ['a=`id`', /^unexpected "`" at column 3/, 2],
  ['a=1;b=2', /^unexpected ";"/, 3],
  ['a=x&', /^unexpected "&"/, 3],
  ['a=x>y', /^unexpected ">"/, 3],
  ['a=<y', /^unexpected "<"/, 2],
  ['a=x#y', /^unexpected "#"/, 3],
  ['a=!x', /^unexpected "!"/, 2],
  ['a=~x', /^unexpected "~"/, 2],
  ['a=é', /^unexpected "é"/, 2],
  ["a='unclosed", /^unterminated single-quoted string at column 3/, 2],
  ['a="x', /^unterminated double-quoted string/, 2],
  ['a="x\\"', /^unterminated double-quoted string/, 2],
  ['a=${x', /^interpolation "\$\{" without a closing "\}"/, 2],
  ['a=${}', /^interpolation "\$\{" without a closing "\}" \(or empty\)/, 2],
  ['a=[1,2', /^unexpected end of input at column 7 .*\(expected "," or "\]"\)/, 6],
  ['a=[1,2]]', /^unexpected "\]"/, 7],
  ['a={b:1', /^unexpected end of input .*\(expected "," or "\}"\)/, 6],
  ['a={b}', /^unexpected "\}" .*expected ":" after the dictionary key/, 4],
  ['a=1,', /^unexpected end of input .*\(expected a value\)/, 4],
  ['a=b=c', /^unexpected "="/, 3],
  ['a=f(x)', /^unknown function "f"/, 2],
  ['a=choice(x=1, 2)', /^positional argument after a keyword argument/, 14],
  ['a="x" ', /^unexpected space at column 6/, 5],
  ['a=[1] ', /^unexpected space/, 5],
  ['=1', /^missing key at column 1/, 0],
  ['@pkg=1', /^missing key/, 0],
  ['', /^missing key/, 0],
  ['+=1', /^missing key at column 2/, 1],
  ['a', /^unexpected end of input at column 2 .*\(expected "=" after the key\)/, 1],
  ['+a', /expected "=" after the key/, 2],
  ['a b=1', /^unexpected " " at column 2/, 1],
  [' a=1', /^unexpected " " at column 1/, 0],
  ['a=b\nc', /^newline at column 4/, 3],
  ['a=b\rc', /^carriage return at column 4/, 3],
  ['a=b\0', /^NUL at column 4/, 3],
  ['a="x\u001by"', /^control character U\+001B at column 5/, 4],
  ['a/b.c=1', /^unexpected "b\.c" .*a config group name/, 2],
  ['a/=1', /^unexpected "=" .*a config group name/, 2],
  ['+++a=1', /^unexpected "\+"/, 2],
  ['~+a', /^unexpected "\+"/, 1],
  ['a@b:c=1', /^unexpected ":"/, 3],
  ['0=1', /^unexpected "0"/, 0],
  ["'a'=1", /^unexpected "'"/, 0],
];

describe('parseOverride', () => {
  it.each(accepted)('accepts %j', (token, expected) => {
    expect(parseOverride(token)).toEqual(expected);
  });

  it.each(refused)('refuses %j', (token, message, position) => {
    const error = parseError(() => parseOverride(token));
    expect(error.message).toMatch(message);
    expect(error.position).toBe(position);
    expect(error.input).toBe(token);
    expect(error.name).toBe('OverrideParseError');
  });
});

describe('parseOverrides', () => {
  it('splits a text field on whitespace outside quotes, brackets, braces and calls', () => {
    const text = `  a=[1, 2] b='x y'\tc={k: v, w: [1, 2]}\nd=choice(a, b) e="q \\" r" ~f g=x\\ y  `;
    expect(parseOverrides(text)).toEqual([
      set('a', '[1, 2]'),
      set('b', "'x y'"),
      set('c', '{k: v, w: [1, 2]}'),
      set('d', 'choice(a, b)'),
      set('e', '"q \\" r"'),
      { prefix: '~', key: 'f', package: null, value: null },
      set('g', 'x\\ y'),
    ]);
  });

  it('reads an empty field as no overrides', () => {
    expect(parseOverrides('')).toEqual([]);
    expect(parseOverrides(' \n\t ')).toEqual([]);
  });

  it('points at the failing override within the whole text', () => {
    const text = 'epochs=1 lr=$(touch x) seed=3';
    const error = parseError(() => parseOverrides(text));
    expect(error.input).toBe(text);
    expect(error.position).toBe(text.indexOf('('));
    expect(error.message).toBe('unexpected "(" at column 14 in "lr=$(touch x)"');
  });

  it('keeps an unbalanced quote or bracket in one token so the error names it', () => {
    expect(parseError(() => parseOverrides("a=1 b='x y c=2")).message).toMatch(/^unterminated single-quoted string at column 7/);
    expect(parseError(() => parseOverrides('a=[1, 2 b=3')).message).toMatch(/^unexpected "=" at column 10/);
    expect(parseError(() => parseOverrides('msg=hello world')).message).toMatch(/^unexpected end of input at column 16 in "world" \(expected "=" after the key\)/);
  });
});

describe('formatOverride', () => {
  it('writes canonical text', () => {
    expect(formatOverride({ prefix: '+', key: 'trainer.max_epochs', package: null, value: '10' })).toBe('+trainer.max_epochs=10');
    expect(formatOverride({ prefix: '~', key: 'db', package: null, value: null })).toBe('~db');
    expect(formatOverride({ prefix: '', key: 'model', package: null, value: 'resnet' })).toBe('model=resnet');
    expect(formatOverride({ prefix: '', key: 'data', package: 'dataset', value: 'imagenet' })).toBe('data@dataset=imagenet');
    expect(formatOverride({ prefix: '', key: 'o', package: null, value: null })).toBe('o=');
  });

  it.each(accepted)('round-trips %j', (token) => {
    const parsed = parseOverride(token);
    expect(parseOverride(formatOverride(parsed))).toEqual(parsed);
  });

  it('refuses parts that are not an override', () => {
    expect(() => formatOverride({ prefix: '', key: 'a b', package: null, value: '1' })).toThrow(OverrideParseError);
    expect(() => formatOverride({ prefix: '', key: 'a', package: null, value: '$(rm -rf /)' })).toThrow(OverrideParseError);
    expect(() => formatOverride({ prefix: '', key: 'a', package: null, value: ' padded' })).toThrow(/does not parse back/);
  });
});

describe('parseHydraValue', () => {
  it.each([
    ['1_000', 1000],
    ['-20', -20],
    ['3.14', 3.14],
    ['1.', 1],
    ['.5', 0.5],
    ['1e3', 1000],
    ['-INF', -Infinity],
    ['inf', Infinity],
    ['TrUe', true],
    ['false', false],
    ['NULL', null],
    ['0x1', '0x1'],
    ['info', 'info'],
    ['true_story', 'true_story'],
    ['a b', 'a b'],
    ['a\\ b\\,c', 'a b,c'],
    ['\\,', ','],
    ["'a\\'b'", "a'b"],
    ['"a\\\\"', 'a\\'],
    ['"a\\b"', 'a\\b'],
    ['\'say "hi"\'', 'say "hi"'],
    ['${x}', '${x}'],
    ['"1"', '1'],
    ['', ''],
    ['[1, [a, b], "c,d"]', [1, ['a', 'b'], 'c,d']],
    ['{a: 1, b: x y, c: [], d: {}}', { a: 1, b: 'x y', c: [], d: {} }],
  ])('reads %j', (text, value) => {
    expect(parseHydraValue(text)).toEqual(value);
  });

  it('refuses sweeps and function calls, which are not one value', () => {
    expect(() => parseHydraValue('a,b')).toThrow(/sweep/);
    expect(() => parseHydraValue('choice(1,2)')).toThrow(/function call/);
  });
});

describe('hydraValue', () => {
  it.each([
    [1, '1'],
    [-2.5, '-2.5'],
    [1e-7, '1e-7'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [Number.NaN, 'nan'],
    [true, 'true'],
    [false, 'false'],
    [null, 'null'],
    ['resnet', 'resnet'],
    ['data/cifar-10.tar', 'data/cifar-10.tar'],
    ['true', '"true"'],
    ['1', '"1"'],
    ['null', '"null"'],
    ['inf', '"inf"'],
    ['', '""'],
    ['a b', '"a b"'],
    ['say "hi"', `'say "hi"'`],
    ['x|y', '"x|y"'],
    ['C:\\', '"C:\\\\"'],
    [['a', 1, true, null], '[a,1,true,null]'],
    [[[1, 2], ['x y']], '[[1,2],["x y"]]'],
    [[], '[]'],
    [{ a: 1, 'b c': 'x', d: [] }, '{a:1,b\\ c:x,d:[]}'],
  ])('writes %j as %s', (value, text) => {
    expect(hydraValue(value)).toBe(text);
  });

  it('refuses what has no override spelling', () => {
    expect(() => hydraValue(undefined)).toThrow(TypeError);
    expect(() => hydraValue(() => 1)).toThrow(TypeError);
    expect(() => hydraValue('two\nlines')).toThrow(/control character/);
    expect(() => hydraValue({ 'ключ': 1 })).toThrow(/cannot be written/);
  });

  // Found by test/lab/hostile.test.ts: the key "1e999" came back from Hydra's grammar as Infinity.
  it('refuses mapping keys that Hydra would read as a number, boolean or null', () => {
    for (const key of ['1', '-0', '1e999', '1.5', 'inf', 'NaN', 'true', 'False', 'null']) {
      expect(() => hydraValue({ [key]: 'x' }), key).toThrow(/would reach Hydra as a (int|float|bool|null)/);
    }
    expect(hydraValue({ a1: 1, ' 1': 2, '1 ': 3, 'null-ish': 4 })).toBe('{a1:1,\\ 1:2,1\\ :3,null-ish:4}');
  });

  // Found by overrides.property.test.ts: deep nesting overflowed the call stack (a RangeError the API masks).
  it('refuses values nested more than 100 deep, in text and in form values', () => {
    expect(parseOverride(`x=${'['.repeat(100)}1${']'.repeat(100)}`).value).toHaveLength(201);
    for (const text of [`x=${'['.repeat(101)}1${']'.repeat(101)}`, `x=${'['.repeat(20_000)}`, `x=${'choice('.repeat(20_000)}`, `x=${'{a:'.repeat(20_000)}`]) {
      expect(parseError(() => parseOverride(text)).message).toMatch(/nested more than 100 deep/);
      expect(parseError(() => parseOverrides(text)).message).toMatch(/nested more than 100 deep/);
      expect(parseError(() => parseHydraValue(text.slice(2))).message).toMatch(/nested more than 100 deep/);
    }
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => hydraValue(deep)).toThrow(TypeError);
    expect(() => hydraValue(deep)).toThrow(/nested more than 100 deep/);
  });

  const trickyStrings = [
    '', ' ', '  ', 'a b', 'x y ', ' leading', "it's", 'say "hi"', `both ' and "`, `'`, `"`, `'"'"`, '\\', 'C:\\dir\\', 'trailing\\\\',
    '\\"', "\\'", '\\\\"\\\\"', '=', 'a=b', ',', 'a,b', '$', '${x}', '${a.b} and ${c}', '$(x)', '`x`', 'ünïcödé', '😀 emoji',
    'tab\there', '[1,2]', '{a:1}', '(', ')', 'true', 'False', 'null', 'NaN', 'inf', '1', '-1', '1e3', '1_000', '.5', '0x1',
    '#', ';', '|', '&&', '<>', '-', '+', '...', ':', 'a:b', '@', '?', '*', '%', '~', '/abs/path', 'choice(a,b)',
  ];

  // OmegaConf reads `${` inside quotes too: `note ${oc.env:HOME}` reached the app as the cluster's HOME, and
  // `${python.eval:…}` failed the job on the cluster. Real Hydra 1.3.2 gives the app exactly these texts back.
  it.each([
    ['${x}', '"\\${x}"'],
    ['note ${oc.env:HOME}', '"note \\${oc.env:HOME}"'],
    ['a\\${x}', '"a\\\\\\${x}"'],
    ['$notbraced', '$notbraced'],
  ])('writes the form string %j as text, not as an interpolation: %s', (text, spelled) => {
    expect(hydraValue(text)).toBe(spelled);
  });

  it.each(trickyStrings)('round-trips the string %j through an override', (text) => {
    const value = parseOverride(`k=${hydraValue(text)}`).value!;
    expect(value).toBe(hydraValue(text));
    expect(parseHydraValue(value)).toBe(text);
  });

  it('round-trips numbers, booleans, null and lists of them', () => {
    const values: unknown[] = [0, 1, -1, 42, 3.14, -0.001, 1e21, 1e-7, 2 ** 53, 0.1 + 0.2, Infinity, -Infinity, true, false, null];
    values.push([...values], [trickyStrings, [1, [true, null]], []]);
    for (const value of values) {
      const text = parseOverride(`k=${hydraValue(value)}`).value!;
      expect(parseHydraValue(text)).toEqual(value);
    }
    expect(parseHydraValue(parseOverride(`k=${hydraValue(Number.NaN)}`).value!)).toBeNaN();
  });
});


describe('parseOverride agrees with Hydra 1.3.2 on functions and deletions', () => {
  it.each(HYDRA_VERDICTS)('%j: Hydra %s it', (token, verdict) => {
    if (verdict === 'accepts') expect(() => parseOverride(token)).not.toThrow();
    else parseError(() => parseOverride(token));
  });

  it.each([
    ['a=choice()', /^choice\(\.\.\.\): empty choice is not legal at column 3/],
    ['a=json_str(1)', /^unknown function "json_str" at column 3 .*\(expected int, float, str, bool, choice, range/],
    ['a=extend_list(1)', /^unknown function "extend_list"/],
    ['a=choice(sort(choice(1,2)))', /^choice\(\.\.\.\): nesting choices is not supported/],
    ['a=range()', /^range\(\.\.\.\): missing a required argument "start"/],
    ['a=interval(1)', /^interval\(\.\.\.\): missing a required argument "end"/],
    ['a=range(1,2,3,4)', /^range\(\.\.\.\): takes at most 3 positional arguments \(start, stop, step\), got 4/],
    ['a=range(1,start=1)', /^range\(\.\.\.\): multiple values for argument "start"/],
    ['a=shuffle(x=1)', /^shuffle\(\.\.\.\): unexpected keyword argument "x"/],
    ['a=int()', /^int\(\.\.\.\): no positional args or value specified/],
    ['a=sort()', /^sort\(\.\.\.\): empty sort input/],
    ['a=tag(x,1)', /^tag\(\.\.\.\): the last argument must be a choice\(\), range\(\) or interval\(\)/],
    ['a=tag(1,choice(1))', /^tag\(\.\.\.\): tags before the sweep must be strings/],
  ])('refuses %j with a message naming the call', (token, message) => {
    expect(parseError(() => parseOverride(token)).message).toMatch(message);
  });

  it('reads a deletion with and without a value as Hydra does', () => {
    expect(parseOverride('~a')).toEqual({ prefix: '~', key: 'a', package: null, value: null });
    expect(parseOverride('~a=')).toEqual({ prefix: '~', key: 'a', package: null, value: '' });
    expect(parseOverride('~a@pkg=x')).toEqual({ prefix: '~', key: 'a', package: 'pkg', value: 'x' });
    expect(parseOverride('~a.b=[1,2]')).toEqual({ prefix: '~', key: 'a.b', package: null, value: '[1,2]' });
  });

  // The one deliberate difference: Hydra's parser takes a deletion without a key (`~`, `~=1`) as it takes `=1`, and
  // only composition refuses it ("Could not delete ''. No match in the defaults list"), after the queue wait.
  it.each(['~', '~=1'])('refuses the key-less deletion %j that Hydra refuses only when composing', (token) => {
    expect(parseError(() => parseOverride(token)).message).toMatch(/^missing key at column 2/);
  });
});
