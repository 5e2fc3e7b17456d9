// A sweep as Hydra 1.3.2's BasicSweeper runs it (hydra/_internal/core_plugins/basic_sweeper.py): each override is
// evaluated as Hydra's parser evaluates it (grammar_functions.py), each sweep is enumerated and every value re-spelled
// as Python prints it (Override.sweep_string_iterator), and the runs are itertools.product of the keys in the order
// they first appear, hydra.sweeper.params first. A job array task receives exactly these strings, so they must be the
// ones Hydra would have handed that job: `true` becomes `True`, `1.50` becomes `1.5`, `range(0,1,0.1)` steps in
// 28-digit decimals. Pure: text in, runs out.
import { SweepTooLargeError, ValidationError } from '../../errors.js';
import {
  OverrideParseError,
  parseOverride,
  parseValueTree,
  primitiveParts,
  unquoteHydraString,
  type Override,
  type ValueElement,
  type ValueToken,
} from './overrides.js';

// ---------------------------------------------------------------------------------------------------------------
// Python values, as Hydra's visitor builds them

type Py =
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  /** Hydra's QuotedString: printed back with its quotes. */
  | { t: 'quoted'; v: string; quote: '"' | "'" }
  | { t: 'list'; items: Py[] }
  | { t: 'dict'; entries: [Py, Py][] }
  | { t: 'choice'; items: Py[]; simple: boolean; shuffle: boolean }
  | { t: 'range'; start: Num; stop: Num; step: Num; shuffle: boolean }
  | { t: 'interval' }
  | { t: 'glob'; include: Py[]; exclude: Py[] };

type Num = Extract<Py, { t: 'bool' | 'int' | 'float' }>;

/** What Hydra would raise while evaluating or enumerating a value; turned into a ValidationError on the key. */
class Refusal extends Error {}

function refuse(message: string): never {
  throw new Refusal(message);
}

const NONE: Py = { t: 'none' };
const str = (v: string): Py => ({ t: 'str', v });

function isSweepValue(value: Py): boolean {
  return value.t === 'choice' || value.t === 'range' || value.t === 'interval';
}

function typeName(value: Py): string {
  const names: Record<Py['t'], string> = {
    none: 'NoneType', bool: 'bool', int: 'int', float: 'float', str: 'str', quoted: 'QuotedString', list: 'list', dict: 'dict',
    choice: 'ChoiceSweep', range: 'RangeSweep', interval: 'IntervalSweep', glob: 'Glob',
  };
  return names[value.t];
}

/** Python's int() of an INT token or a string: underscores between digits, surrounding whitespace. */
function pythonInt(text: string): bigint | null {
  const match = /^\s*([+-]?)(\d(?:_?\d)*)\s*$/.exec(text);
  if (!match) return null;
  const digits = match[2]!.replace(/_/g, '');
  // Python refuses leading zeros only in literals; int('007') is 7, and the grammar's INT has none.
  const value = BigInt(digits);
  return match[1] === '-' ? -value : value;
}

/** Python's float() of a FLOAT token or a string. */
function pythonFloat(text: string): number | null {
  const trimmed = text.trim();
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(trimmed);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  const digits = '\\d(?:_?\\d)*';
  if (!new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`).test(trimmed)) return null;
  return Number(trimmed.replace(/_/g, ''));
}

// Hydra's _createPrimitive, as Python values.
function primitive(tokens: ValueToken[]): Py {
  const parts = primitiveParts(tokens);
  if ('text' in parts) return str(parts.text);
  const { token } = parts;
  switch (token.type) {
    case 'QUOTED_VALUE':
      return { t: 'quoted', v: unquoteHydraString(token.text), quote: token.text[0] as '"' | "'" };
    case 'INT':
      return { t: 'int', v: pythonInt(token.text)! };
    case 'FLOAT':
      return { t: 'float', v: pythonFloat(token.text)! };
    case 'NULL':
      return NONE;
    default:
      return { t: 'bool', v: token.text.toLowerCase() === 'true' };
  }
}

// Python dict keys: 1, 1.0 and True are one key; a later duplicate replaces the value in the first one's place.
function sameKey(a: Py, b: Py): boolean {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== null && y !== null) return compareNumbers(x, y) === 0;
  if (a.t === 'str' && b.t === 'str') return a.v === b.v;
  if (a.t === 'quoted' && b.t === 'quoted') return a.v === b.v && a.quote === b.quote;
  return a.t === 'none' && b.t === 'none';
}

function evaluate(element: ValueElement): Py {
  switch (element.kind) {
    case 'primitive':
      return primitive(element.tokens);
    case 'list':
      return { t: 'list', items: element.items.map(evaluate) };
    case 'dict': {
      const entries: [Py, Py][] = [];
      for (const entry of element.entries) {
        const key = primitive(entry.key);
        const value = evaluate(entry.value);
        const existing = entries.find(([k]) => sameKey(k, key));
        if (existing) existing[1] = value;
        else entries.push([key, value]);
      }
      return { t: 'dict', entries };
    }
    case 'function': {
      // Functions.eval: a quoted string passed straight to a function is a plain str (inside a list it stays quoted).
      const plain = (value: Py): Py => (value.t === 'quoted' ? str(value.v) : value);
      const args = element.args.filter((arg) => arg.name === null).map((arg) => plain(evaluate(arg.value)));
      const kwargs = new Map(element.args.filter((arg) => arg.name !== null).map((arg) => [arg.name!, plain(evaluate(arg.value))]));
      try {
        return call(element.name, args, kwargs);
      } catch (error) {
        if (error instanceof Refusal) throw new Refusal(`${element.name}(...): ${error.message}`);
        throw error;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers: Python's int (unbounded), float and bool-as-int, and the Decimal arithmetic of Hydra's FloatRange

type Numeric = { int: bigint } | { float: number };

function numeric(value: Py): Numeric | null {
  if (value.t === 'int') return { int: value.v };
  if (value.t === 'bool') return { int: value.v ? 1n : 0n };
  if (value.t === 'float') return { float: value.v };
  return null;
}

function compareNumbers(a: Numeric, b: Numeric): number {
  if ('int' in a && 'int' in b) return a.int < b.int ? -1 : a.int > b.int ? 1 : 0;
  const x = 'int' in a ? Number(a.int) : a.float;
  const y = 'int' in b ? Number(b.int) : b.float;
  return x < y ? -1 : x > y ? 1 : 0;
}

function fromNumeric(value: Numeric): Num {
  return 'int' in value ? { t: 'int', v: value.int } : { t: 'float', v: value.float };
}

function add(a: Numeric, b: Numeric, sign: 1n | -1n = 1n): Numeric {
  if ('int' in a && 'int' in b) return { int: a.int + sign * b.int };
  const x = 'int' in a ? Number(a.int) : a.float;
  const y = 'int' in b ? Number(b.int) : b.float;
  return { float: sign === 1n ? x + y : x - y };
}

function abs(a: Numeric): Numeric {
  return 'int' in a ? { int: a.int < 0n ? -a.int : a.int } : { float: Math.abs(a.float) };
}

/** A finite Python Decimal: coefficient × 10^exponent. */
interface Decimal {
  coefficient: bigint;
  exponent: number;
}

/** Decimal(x): the exact value of an int or of a binary float. */
function exactDecimal(value: Numeric): Decimal {
  if ('int' in value) return { coefficient: value.int, exponent: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value.float);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let power = biased - 1075;
  if (biased === 0) power = -1074;
  else mantissa |= 1n << 52n;
  const signed = negative ? -mantissa : mantissa;
  if (power >= 0) return { coefficient: signed << BigInt(power), exponent: 0 };
  // m / 2^k = m·5^k / 10^k
  return { coefficient: signed * 5n ** BigInt(-power), exponent: power };
}

const DECIMAL_PRECISION = 28;

/** Decimal addition in Python's default context: exact, then rounded half-even to 28 significant digits. */
function decimalAdd(a: Decimal, b: Decimal): Decimal {
  const exponent = Math.min(a.exponent, b.exponent);
  let coefficient = a.coefficient * 10n ** BigInt(a.exponent - exponent) + b.coefficient * 10n ** BigInt(b.exponent - exponent);
  let shift = (coefficient < 0n ? -coefficient : coefficient).toString().length - DECIMAL_PRECISION;
  if (shift <= 0) return { coefficient, exponent };
  const divisor = 10n ** BigInt(shift);
  const negative = coefficient < 0n;
  const magnitude = negative ? -coefficient : coefficient;
  let quotient = magnitude / divisor;
  const remainder = magnitude % divisor;
  if (remainder * 2n > divisor || (remainder * 2n === divisor && quotient % 2n === 1n)) quotient += 1n;
  coefficient = negative ? -quotient : quotient;
  return { coefficient, exponent: exponent + shift };
}

function decimalCompare(a: Decimal, b: Decimal): number {
  const exponent = Math.min(a.exponent, b.exponent);
  const x = a.coefficient * 10n ** BigInt(a.exponent - exponent);
  const y = b.coefficient * 10n ** BigInt(b.exponent - exponent);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** float(Decimal): correctly rounded, as JavaScript's number parsing is. */
function decimalToFloat(value: Decimal): number {
  return Number(`${value.coefficient}e${value.exponent}`);
}

/** Python's repr of a float. */
export function pythonFloatText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() gives the shortest digits that read back as the same float, as Python's repr does.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1);
    return `${sign}${whole}.${fraction || '0'}`;
  }
  const rest = digits.slice(1);
  return `${sign}${digits[0]}${rest ? `.${rest}` : ''}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Hydra's grammar functions (grammar_functions.py), with Functions.eval's argument type checks

function expectType(name: string, value: Py | undefined, allowed: Py['t'][], optional = false): void {
  if (value === undefined) return;
  if (optional && value.t === 'none') return;
  if (!allowed.includes(value.t)) refuse(`mismatch type argument ${name}: ${typeName(value)} is not allowed`);
}

const ELEMENT: Py['t'][] = ['str', 'int', 'float', 'bool', 'list', 'dict'];

// planSweep's random source for shuffle() of a list, which is evaluated while the tree is read.
let currentRandom: () => number = Math.random;

function call(name: string, args: Py[], kwargs: Map<string, Py>): Py {
  switch (name) {
    case 'int':
    case 'float':
    case 'str':
    case 'bool': {
      for (const arg of [...args, ...kwargs.values()]) expectType('value', arg, [...ELEMENT, 'none', 'quoted', 'choice', 'range', 'interval']);
      const value = kwargs.get('value');
      if (args.length > 0 && value !== undefined && value.t !== 'none') refuse('cannot use both position and named arguments');
      let target: Py;
      if (value !== undefined && value.t !== 'none') target = value;
      else if (args.length === 0) refuse('No positional args or value specified');
      else target = args.length === 1 ? args[0]! : simpleChoice(args);
      return cast(name, target);
    }
    case 'choice': {
      args.forEach((arg, index) => expectType(`args[${index}]`, arg, [...ELEMENT, 'choice']));
      if (args.length === 0) refuse('empty choice is not legal');
      if (args.length === 1 && args[0]!.t === 'choice') {
        if (!args[0]!.simple) refuse('nesting choices is not supported');
        return { ...args[0]!, simple: false };
      }
      return { t: 'choice', items: args, simple: false, shuffle: false };
    }
    case 'range': {
      const [startArg, stopArg, stepArg] = [args[0] ?? kwargs.get('start'), args[1] ?? kwargs.get('stop'), args[2] ?? kwargs.get('step')];
      expectType('start', startArg, ['int', 'float', 'bool']);
      expectType('stop', stopArg, ['int', 'float', 'bool'], true);
      expectType('step', stepArg, ['int', 'float', 'bool']);
      let start = startArg as Num;
      let stop = stopArg === undefined || stopArg.t === 'none' ? undefined : (stopArg as Num);
      if (stop === undefined) {
        stop = start;
        start = { t: 'int', v: 0n };
      }
      return { t: 'range', start, stop, step: (stepArg as Num | undefined) ?? { t: 'int', v: 1n }, shuffle: false };
    }
    case 'interval':
      return { t: 'interval' };
    case 'glob': {
      const include = args[0] ?? kwargs.get('include')!;
      const exclude = args[1] ?? kwargs.get('exclude') ?? NONE;
      expectType('include', include, ['str', 'list']);
      expectType('exclude', exclude, ['str', 'list'], true);
      const patterns = (value: Py): Py[] => (value.t === 'list' ? value.items : value.t === 'none' ? [] : [value]);
      return { t: 'glob', include: patterns(include), exclude: patterns(exclude) };
    }
    case 'tag': {
      const all = kwargs.has('sweep') ? [...args, kwargs.get('sweep')!] : args;
      if (all.length < 1) refuse('Not enough arguments to tag, must take at least a sweep');
      const last = all[all.length - 1]!;
      if (!isSweepValue(last)) refuse(`Last argument to tag() must be a choice(), range() or interval(), got ${typeName(last)}`);
      for (const tag of all.slice(0, -1)) if (tag.t !== 'str') refuse(`tag arguments type must be string, got ${typeName(tag)}`);
      return last;
    }
    case 'shuffle': {
      args.forEach((arg, index) => expectType(`args[${index}]`, arg, [...ELEMENT, 'choice', 'range']));
      expectType('sweep', kwargs.get('sweep'), ['choice', 'range'], true);
      expectType('list', kwargs.get('list'), ['list'], true);
      const list = kwargs.get('list');
      if (list && list.t !== 'none') return call('shuffle', [list], new Map());
      const sweep = kwargs.get('sweep');
      if (sweep && sweep.t !== 'none') return call('shuffle', [sweep], new Map());
      if (args.length === 1) {
        const arg = args[0]!;
        if (arg.t === 'choice' || arg.t === 'range') return { ...arg, shuffle: true };
        // One value, shuffled once for the whole sweep (the sweeper evaluates it once), so every run gets the same list.
        if (arg.t === 'list') return { t: 'list', items: shuffled(arg.items, currentRandom) };
        return { t: 'list', items: [arg] };
      }
      return { ...simpleChoice(args), shuffle: true };
    }
    case 'sort': {
      args.forEach((arg, index) => expectType(`args[${index}]`, arg, [...ELEMENT, 'choice', 'range']));
      expectType('sweep', kwargs.get('sweep'), ['choice', 'range'], true);
      expectType('list', kwargs.get('list'), ['list'], true);
      const reverseArg = kwargs.get('reverse');
      if (reverseArg !== undefined && reverseArg.t !== 'bool') refuse(`mismatch type argument reverse: ${typeName(reverseArg)} is not allowed`);
      const reverse = reverseArg?.t === 'bool' && reverseArg.v;
      const list = kwargs.get('list');
      if (list && list.t === 'list') return { t: 'list', items: sorted(list.items, reverse) };
      const sweep = kwargs.get('sweep');
      if (sweep && (sweep.t === 'choice' || sweep.t === 'range')) return sortSweep(sweep, reverse);
      if (args.length === 1) {
        const arg = args[0]!;
        if (arg.t === 'choice' || arg.t === 'range') return sortSweep(arg, reverse);
        if (arg.t === 'list') return { t: 'list', items: sorted(arg.items, reverse) };
        return arg;
      }
      if (args.some((arg) => !['int', 'float', 'bool', 'str'].includes(arg.t))) refuse('Invalid arguments');
      if (args.length === 0) refuse('empty sort input');
      return sortSweep(simpleChoice(args), reverse);
    }
    default:
      return refuse(`Unknown function '${name}'`);
  }
}

function simpleChoice(items: Py[]): Extract<Py, { t: 'choice' }> {
  // _list_to_simple_choice asserts each item is a plain value.
  if (items.some((item) => isSweepValue(item) || item.t === 'glob')) refuse('a sweep cannot be one value of another sweep');
  return { t: 'choice', items, simple: true, shuffle: false };
}

function castOne(name: string, value: Py): Py {
  switch (value.t) {
    case 'quoted':
      return castOne(name, str(value.v));
    case 'list':
      return { t: 'list', items: value.items.map((item) => castOne(name, item)) };
    case 'dict':
      return { t: 'dict', entries: value.entries.map(([key, item]) => [key, castOne(name, item)]) };
    case 'none':
      return refuse(`${name}() of null`);
    case 'choice':
    case 'range':
    case 'interval':
    case 'glob':
      return refuse(`${name}() of a sweep inside a value`);
  }
  const number = numeric(value);
  if (name === 'int') {
    if (value.t === 'str') {
      const parsed = pythonInt(value.v);
      if (parsed === null) refuse(`invalid literal for int() with base 10: '${value.v}'`);
      return { t: 'int', v: parsed };
    }
    if ('float' in number!) {
      if (!Number.isFinite(number.float)) refuse(`cannot convert float ${pythonFloatText(number.float)} to integer`);
      return { t: 'int', v: BigInt(Math.trunc(number.float)) };
    }
    return { t: 'int', v: number!.int };
  }
  if (name === 'float') {
    if (value.t === 'str') {
      const parsed = pythonFloat(value.v);
      if (parsed === null) refuse(`could not convert string to float: '${value.v}'`);
      return { t: 'float', v: parsed };
    }
    return { t: 'float', v: 'float' in number! ? number.float : Number(number!.int) };
  }
  if (name === 'str') {
    if (value.t === 'str') return value;
    if (value.t === 'bool') return str(value.v ? 'true' : 'false');
    return str(value.t === 'int' ? value.v.toString() : pythonFloatText((value as { v: number }).v));
  }
  // bool
  if (value.t === 'str') {
    const lower = value.v.toLowerCase();
    if (lower !== 'true' && lower !== 'false') refuse(`Cannot cast '${value.v}' to bool`);
    return { t: 'bool', v: lower === 'true' };
  }
  return { t: 'bool', v: 'int' in number! ? number.int !== 0n : number!.float !== 0 };
}

function cast(name: string, value: Py): Py {
  if (value.t === 'choice') return { t: 'choice', items: value.items.map((item) => castOne(name, item)), simple: value.simple, shuffle: false };
  if (value.t === 'range') {
    if (name !== 'int' && name !== 'float') refuse('Range can only be cast to int or float');
    return { t: 'range', start: castOne(name, value.start) as Num, stop: castOne(name, value.stop) as Num, step: castOne(name, value.step) as Num, shuffle: false };
  }
  if (value.t === 'interval') {
    if (name === 'str' || name === 'bool') refuse(`Intervals cannot be cast to ${name}`);
    return value;
  }
  return castOne(name, value);
}

/** Python's `<` for the values a sort can meet; anything else is Python's TypeError. */
function pythonCompare(a: Py, b: Py): number {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== null && y !== null) return compareNumbers(x, y);
  if (a.t === 'str' && b.t === 'str') return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  if (a.t === 'list' && b.t === 'list') {
    for (let i = 0; i < Math.min(a.items.length, b.items.length); i++) {
      const order = pythonCompare(a.items[i]!, b.items[i]!);
      if (order !== 0) return order;
    }
    return a.items.length - b.items.length;
  }
  return refuse(`'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function sorted(items: Py[], reverse: boolean): Py[] {
  // Python's sort is stable in both directions.
  return [...items].sort((a, b) => (reverse ? pythonCompare(b, a) : pythonCompare(a, b)));
}

function sortSweep(sweep: Extract<Py, { t: 'choice' | 'range' }>, reverse: boolean): Py {
  if (sweep.t === 'choice') return { ...sweep, items: sorted(sweep.items, reverse) };
  const start = numeric(sweep.start)!;
  const stop = numeric(sweep.stop)!;
  const step = numeric(sweep.step)!;
  const order = compareNumbers(start, stop);
  const negate = (n: Numeric): Numeric => ('int' in n ? { int: -n.int } : { float: -n.float });
  if (!reverse && order > 0) {
    return { ...sweep, start: fromNumeric(add(stop, abs(step))), stop: fromNumeric(add(start, abs(step))), step: fromNumeric(negate(step)) };
  }
  if (reverse && order < 0) {
    return { ...sweep, start: fromNumeric(add(stop, abs(step), -1n)), stop: fromNumeric(add(start, abs(step), -1n)), step: fromNumeric(negate(step)) };
  }
  return sweep;
}

// ---------------------------------------------------------------------------------------------------------------
// Spelling values back (Override._get_value_element_as_str)

const ESCAPED = /[\\()[\]{}:=, \t]/g;

function spell(value: Py): string {
  switch (value.t) {
    case 'none':
      return 'null';
    case 'bool':
      return value.v ? 'True' : 'False';
    case 'int':
      return value.v.toString();
    case 'float':
      return pythonFloatText(value.v);
    case 'str':
      return value.v.replace(ESCAPED, (char) => `\\${char}`);
    case 'quoted':
      return withQuotes(value.v, value.quote);
    case 'list':
      return `[${value.items.map(spell).join(',')}]`;
    case 'dict':
      return `{${value.entries.map(([key, item]) => `${spell(key)}:${spell(item)}`).join(',')}}`;
    default:
      return refuse(`a ${typeName(value)} cannot be one value of a sweep or inside a list or dict`);
  }
}

// QuotedString.with_quotes: backslashes before a quote (and before the closing one) doubled, inner quotes escaped.
function withQuotes(text: string, quote: '"' | "'"): string {
  const pattern = quote === '"' ? /(\\+)("|$)/g : /(\\+)('|$)/g;
  const doubled = text.includes('\\') ? text.replace(pattern, (_match, slashes: string, end: string) => `${slashes}${slashes}${end}`) : text;
  return `${quote}${doubled.split(quote).join(`\\${quote}`)}${quote}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Enumeration

/** fnmatch.fnmatch on POSIX: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive. */
function fnmatch(name: string, pattern: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*') regex += '.*';
    else if (char === '?') regex += '.';
    else if (char === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) regex += '\\[';
      else {
        let set = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        regex += `[${set}]`;
        i = j;
      }
    } else regex += char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${regex})$`, 's').test(name);
}

interface Dimension {
  /** Hydra's key element: prefix, key and package (`+db@src`). */
  key: string;
  /** How many values, or null when more than the cap were found (only a float range is counted by walking it). */
  count: bigint | null;
  values: () => string[];
  shuffle: boolean;
  /** Why it has no values, when that is not plain from the override. */
  why?: string;
}

function intRangeCount(start: bigint, stop: bigint, step: bigint): bigint {
  if (step > 0n) return stop > start ? (stop - start + step - 1n) / step : 0n;
  return start > stop ? (start - stop - step - 1n) / -step : 0n;
}

function rangeDimension(key: string, sweep: Extract<Py, { t: 'range' }>, cap: number): Dimension {
  const [start, stop, step] = [numeric(sweep.start)!, numeric(sweep.stop)!, numeric(sweep.step)!];
  if ('int' in start && 'int' in stop && 'int' in step) {
    if (step.int === 0n) refuse('range() arg 3 must not be zero');
    const count = intRangeCount(start.int, stop.int, step.int);
    return {
      key,
      count,
      shuffle: sweep.shuffle,
      values: () => Array.from({ length: Number(count) }, (_, i) => (start.int + BigInt(i) * step.int).toString()),
    };
  }
  // FloatRange: Decimal(start), adding Decimal(step) in Python's 28-digit context until the bound is passed.
  for (const n of [start, stop, step]) {
    if ('float' in n && Number.isNaN(n.float)) refuse('range() with nan: [<class \'decimal.InvalidOperation\'>]');
  }
  const first = 'float' in start && Object.is(start.float, -0);
  const infinite = (n: Numeric) => 'float' in n && !Number.isFinite(n.float);
  const stepSign = compareNumbers(step, { int: 0n });
  if (stepSign === 0) refuse(`Invalid range values (start:${spellNumeric(start)}, stop:${spellNumeric(stop)}, step:${spellNumeric(step)})`);
  const startCmpStop = compareNumbers(start, stop);
  const empty = stepSign > 0 ? startCmpStop >= 0 : startCmpStop <= 0;
  if (!empty && (infinite(start) || infinite(stop) || infinite(step))) {
    // Decimal infinities: an infinite bound never ends (Hydra would enumerate forever), an infinite step or start
    // repeats infinity forever as well.
    return { key, count: null, shuffle: sweep.shuffle, values: () => refuse('an infinite range') };
  }
  // The exact length is only known by walking (28-digit rounding can shorten or stall it), but a range whose plain
  // arithmetic length is well past the cap is refused without a walk of up to `cap` steps.
  const toFloat = (n: Numeric) => ('int' in n ? Number(n.int) : n.float);
  const estimate = empty ? 0 : Math.ceil((toFloat(stop) - toFloat(start)) / toFloat(step));
  if (estimate > cap * 1.01 + 2) return { key, count: null, shuffle: sweep.shuffle, values: () => refuse('a range longer than the limit') };
  const walk = (limit: number): number[] => {
    const out: number[] = [];
    if (empty) return out;
    const end = exactDecimal(stop);
    const increment = exactDecimal(step);
    let current = exactDecimal(start);
    while (stepSign > 0 ? decimalCompare(current, end) < 0 : decimalCompare(current, end) > 0) {
      if (out.length >= limit) break;
      out.push(out.length === 0 && first ? -0 : decimalToFloat(current));
      current = decimalAdd(current, increment);
    }
    return out;
  };
  const found = walk(cap + 1);
  return {
    key,
    count: found.length > cap ? null : BigInt(found.length),
    shuffle: sweep.shuffle,
    values: () => found.map(pythonFloatText),
  };
}

function spellNumeric(value: Numeric): string {
  return 'int' in value ? value.int.toString() : pythonFloatText(value.float);
}

function dimensionOf(key: string, groupKey: string, value: Py, options: SweepOptions, cap: number): Dimension {
  switch (value.t) {
    case 'choice': {
      const values = value.items.map(spell);
      return { key, count: BigInt(values.length), shuffle: value.shuffle, values: () => values };
    }
    case 'range':
      return rangeDimension(key, value, cap);
    case 'interval':
      return refuse('BasicSweeper does not support sweep type : INTERVAL_SWEEP (interval() is for optimising sweepers such as Optuna)');
    case 'glob': {
      // Hydra lists no options for a key that is no group, so such a glob is an empty sweep (refused below, unless a
      // later override of the same key replaces it).
      const groupOptions = options.groupOptions?.(groupKey);
      if (groupOptions === undefined) return { key, count: 0n, shuffle: false, values: () => [], why: `glob() picks options of a config group, and ${JSON.stringify(groupKey)} is no config group` };
      const patterns = (list: Py[]) =>
        list.map((pattern) => (pattern.t === 'str' || pattern.t === 'quoted' ? pattern.v : refuse(`glob patterns must be strings, got ${typeName(pattern)}`)));
      const include = patterns(value.include);
      const exclude = patterns(value.exclude);
      const values = groupOptions.filter((name) => include.some((p) => fnmatch(name, p)) && !exclude.some((p) => fnmatch(name, p)));
      return { key, count: BigInt(values.length), shuffle: false, values: () => values };
    }
    default: {
      const text = spell(value);
      return { key, count: 1n, shuffle: false, values: () => [text] };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The public part

export interface SweepOptions {
  /** Most runs a sweep may have (the cluster's MaxArraySize − 1, or the configured cap). */
  limit: number;
  /** The option names of a config group (as Hydra lists them), for glob(); undefined when the key is no group. */
  groupOptions?: (group: string) => string[] | undefined;
  /** The composed primary's `hydra.sweeper.params` (key → sweep text), overridden by the typed overrides. */
  params?: Record<string, unknown> | null;
  /** For shuffle(): Hydra uses Python's random; a caller can seed this to show the same order twice. */
  random?: () => number;
}

export interface SweepDimension {
  /** Hydra's key element: `seed`, `model`, `+db@src`, `~trainer.fast`. */
  key: string;
  /** The override string each value gives a run (`seed=1`), in Hydra's order. */
  overrides: string[];
}

export interface SweepPlan {
  /** One per key, in the order of Hydra's cartesian product (the first varies slowest). */
  dimensions: SweepDimension[];
  /** Keys with more than one value: the columns that tell the runs apart. */
  varying: string[];
  count: number;
  /** Each run's override strings, as BasicSweeper passes them to that job. */
  runs: string[][];
}

/** One override of the sweep with where it came from, for the field an error names. */
interface Source {
  text: string;
  field: string;
}

function paramText(value: unknown, key: string): string {
  // BasicSweeper writes f"{k}={v}": Python's str() of what the YAML gave.
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) && Math.abs(value) < 2 ** 53 ? String(value) : pythonFloatText(value);
  if (value === null) return 'None';
  throw new ValidationError(`sweep.${key}`, `hydra.sweeper.params.${key} must be a value or a sweep written as text, not ${Array.isArray(value) ? 'a list' : typeof value}`);
}

/** The default sweep of a composed primary: `hydra.sweeper.params`, given the raw `hydra` node. */
export function sweeperParams(hydraNode: unknown): Record<string, unknown> | null {
  if (hydraNode === null || typeof hydraNode !== 'object') return null;
  const sweeper = (hydraNode as Record<string, unknown>).sweeper;
  if (sweeper === null || typeof sweeper !== 'object') return null;
  const params = (sweeper as Record<string, unknown>).params;
  if (params === null || params === undefined) return null;
  if (typeof params !== 'object' || Array.isArray(params)) throw new ValidationError('sweep', 'hydra.sweeper.params must be a mapping of key to sweep');
  return params as Record<string, unknown>;
}

function keyElement(override: Override): string {
  const pkg = override.package === null ? '' : `@${override.package}`;
  return `${override.prefix}${override.key}${pkg}`;
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The runs of a sweep as Hydra's BasicSweeper makes them: `overrides` are the sweep's override tokens (one argv entry
 * each). Refuses, with a ValidationError on `rawOverrides` or `sweep.<key>`, what Hydra refuses (a parse error,
 * interval(), a value Hydra cannot evaluate or print) and a sweep without runs; with SweepTooLargeError a sweep of
 * more than `limit` runs, counted before any run is built.
 */
export function planSweep(overrides: string[], options: SweepOptions): SweepPlan {
  const sources: Source[] = [
    ...Object.entries(options.params ?? {}).map(([key, value]) => ({ text: `${key}=${paramText(value, key)}`, field: `sweep.${key}` })),
    ...overrides.map((text) => ({ text, field: 'rawOverrides' })),
  ];
  const cap = options.limit;
  const random = options.random ?? Math.random;
  currentRandom = random;
  // An OrderedDict in Hydra: a repeated key keeps its first place and takes the last value.
  const byKey = new Map<string, Dimension>();
  for (const source of sources) {
    let override: Override;
    try {
      override = parseOverride(source.text);
    } catch (error) {
      if (error instanceof OverrideParseError) throw new ValidationError(source.field, error.message);
      throw error;
    }
    const key = keyElement(override);
    const field = source.field === 'rawOverrides' ? `sweep.${key}` : source.field;
    try {
      // `~key` alone: Hydra spells its missing value as null (`~key=null`), which is what a job would receive.
      const value = override.value === null ? NONE : override.value === '' ? str('') : evaluateValue(override.value);
      byKey.set(key, dimensionOf(key, override.key, value, options, cap));
    } catch (error) {
      if (error instanceof Refusal) throw new ValidationError(field, `${source.text}: ${error.message}`);
      if (error instanceof OverrideParseError) throw new ValidationError(source.field, error.message);
      throw error;
    }
  }
  const dimensions = [...byKey.values()];
  const empty = dimensions.find((dimension) => dimension.count === 0n);
  if (empty) throw new ValidationError(`sweep.${empty.key}`, `${empty.why ? `${empty.why}: ` : ''}${empty.key} sweeps over no values, so the sweep has no runs`);
  let total: bigint | null = 1n;
  for (const dimension of dimensions) total = total === null || dimension.count === null ? null : total * dimension.count;
  if (total === null || total > BigInt(cap)) {
    throw new SweepTooLargeError(total === null ? null : Number(total), cap, dimensions.map((d) => `${d.key}: ${d.count === null ? `more than ${cap}` : d.count}`));
  }
  const resolved = dimensions.map((dimension) => {
    const values = dimension.values().map((value) => `${dimension.key}=${value}`);
    return { key: dimension.key, overrides: dimension.shuffle ? shuffled(values, random) : values };
  });
  const runs: string[][] = [];
  const count = Number(total);
  for (let index = 0; index < count; index++) {
    // itertools.product: the last key varies fastest.
    const run: string[] = new Array<string>(resolved.length);
    let rest = index;
    for (let d = resolved.length - 1; d >= 0; d--) {
      const values = resolved[d]!.overrides;
      run[d] = values[rest % values.length]!;
      rest = Math.floor(rest / values.length);
    }
    runs.push(run);
  }
  return {
    dimensions: resolved,
    varying: resolved.filter((dimension) => new Set(dimension.overrides).size > 1).map((dimension) => dimension.key),
    count,
    runs,
  };
}

function evaluateValue(text: string): Py {
  const tree = parseValueTree(text);
  if (tree.kind === 'sweep') return simpleChoice(tree.items.map(evaluate));
  return evaluate(tree);
}
