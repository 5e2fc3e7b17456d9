// Hydra's command-line override grammar (Hydra 1.3: hydra/grammar/OverrideLexer.g4 + OverrideParser.g4), re-implemented
// so a user hears what is wrong while typing, and so nothing reaches a cluster that Hydra would refuse after a queue wait.
// The lexer copies ANTLR's rule: the longest match wins, a tie goes to the rule listed first. The parser mirrors the
// grammar's rules one function each. Pure: text in, typed value out.
import { AppError } from '../../errors.js';

export interface Override {
  prefix: '' | '+' | '++' | '~';
  /** Dotted config key ("db.user") or config group path ("model/encoder"). */
  key: string;
  /** Text after `@` ("" is valid Hydra: the global package); null when the key has no `@`. */
  package: string | null;
  /** The value text as written, without the whitespace Hydra ignores around it; null only for `~key`. */
  value: string | null;
}

export class OverrideParseError extends AppError {
  constructor(
    readonly input: string,
    /** 0-based offset into `input` (UTF-16 code units, so it can select the text in an input field). */
    readonly position: number,
    message: string,
  ) {
    super(message);
  }
}

type TokenType =
  // key mode
  | 'EQUAL' | 'TILDE' | 'PLUS' | 'AT' | 'COLON' | 'SLASH' | 'ID' | 'KEY_SPECIAL' | 'DOT_PATH'
  // value mode (COLON, EQUAL and ID are shared, as in the grammar)
  | 'POPEN' | 'COMMA' | 'PCLOSE' | 'BRACKET_OPEN' | 'BRACKET_CLOSE' | 'BRACE_OPEN' | 'BRACE_CLOSE'
  | 'FLOAT' | 'INT' | 'BOOL' | 'NULL' | 'UNQUOTED_CHAR' | 'ESC' | 'WS' | 'QUOTED_VALUE' | 'INTERPOLATION'
  | 'EOF';

interface Token {
  type: TokenType;
  text: string;
  start: number;
  end: number;
}

type Matcher = (input: string, at: number) => number;

function sticky(...patterns: string[]): Matcher {
  const regexes = patterns.map((pattern) => new RegExp(pattern, 'y'));
  // Several patterns stand for one ANTLR rule whose alternatives JS alternation would not try for the longest.
  return (input, at) => {
    let longest = 0;
    for (const regex of regexes) {
      regex.lastIndex = at;
      const match = regex.exec(input);
      if (match && match[0].length > longest) longest = match[0].length;
    }
    return longest;
  };
}

// QUOTED_VALUE ends at the first matching quote preceded by an even number of backslashes (the grammar's non-greedy rule).
function quotedValue(input: string, at: number): number {
  const quote = input[at];
  if (quote !== '"' && quote !== "'") return 0;
  let backslashes = 0;
  for (let i = at + 1; i < input.length; i++) {
    const char = input[i];
    if (char === quote && backslashes % 2 === 0) return i + 1 - at;
    backslashes = char === '\\' ? backslashes + 1 : 0;
  }
  return 0;
}

const INT_UNSIGNED = '(?:0|[1-9](?:_?[0-9])*)';
const DIGITS = '[0-9](?:_?[0-9])*';
const KEY_SPECIAL = '[A-Za-z_$][A-Za-z0-9_$-]*';
const ID = '[A-Za-z_][A-Za-z0-9_-]*';
const POINT_FLOAT = [`${INT_UNSIGNED}\\.`, `${INT_UNSIGNED}?\\.${DIGITS}`];
const MANTISSA = `(?:${INT_UNSIGNED}\\.${DIGITS}|${INT_UNSIGNED}\\.|\\.${DIGITS}|${INT_UNSIGNED})`;

const KEY_RULES: [TokenType, Matcher][] = [
  ['EQUAL', sticky('=[ \\t]*')],
  ['TILDE', sticky('~')],
  ['PLUS', sticky('\\+')],
  ['AT', sticky('@')],
  ['COLON', sticky(':')],
  ['SLASH', sticky('/')],
  ['ID', sticky(ID)],
  ['KEY_SPECIAL', sticky(KEY_SPECIAL)],
  ['DOT_PATH', sticky(`(?:${KEY_SPECIAL}|${INT_UNSIGNED})(?:\\.(?:${KEY_SPECIAL}|${INT_UNSIGNED}))+`)],
];

const VALUE_RULES: [TokenType, Matcher][] = [
  ['POPEN', sticky('[ \\t]*\\([ \\t]*')],
  ['COMMA', sticky('[ \\t]*,[ \\t]*')],
  ['PCLOSE', sticky('[ \\t]*\\)')],
  ['BRACKET_OPEN', sticky('\\[[ \\t]*')],
  ['BRACKET_CLOSE', sticky('[ \\t]*\\]')],
  ['BRACE_OPEN', sticky('\\{[ \\t]*')],
  ['BRACE_CLOSE', sticky('[ \\t]*\\}')],
  ['COLON', sticky('[ \\t]*:[ \\t]*')],
  ['EQUAL', sticky('[ \\t]*=[ \\t]*')],
  ['FLOAT', sticky(...POINT_FLOAT.map((p) => `[+-]?${p}`), `[+-]?${MANTISSA}[eE][+-]?${DIGITS}`, '[+-]?(?:[Ii][Nn][Ff]|[Nn][Aa][Nn])')],
  ['INT', sticky(`[+-]?${INT_UNSIGNED}`)],
  ['BOOL', sticky('[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]')],
  ['NULL', sticky('[Nn][Uu][Ll][Ll]')],
  ['UNQUOTED_CHAR', sticky('[/\\-\\\\+.$%*@?|]')],
  ['ID', sticky(ID)],
  ['ESC', sticky('(?:\\\\[\\\\()\\[\\]{}:=, \\t])+')],
  ['WS', sticky('[ \\t]+')],
  ['QUOTED_VALUE', quotedValue],
  ['INTERPOLATION', sticky('\\$\\{[^}]+\\}')],
];

function describeChar(char: string): string {
  if (char === '\n') return 'newline';
  if (char === '\r') return 'carriage return';
  if (char === '\0') return 'NUL';
  return `control character U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

// Thrown inside the lexer and parser; the exported functions turn it into an OverrideParseError whose position and
// message fit what the caller passed in (one token, or a whole text field).
class GrammarError extends Error {
  constructor(
    readonly position: number,
    readonly what: string,
    readonly expected: string | undefined,
  ) {
    super(what);
  }
}

function fail(position: number, what: string, expected?: string): never {
  throw new GrammarError(position, what, expected);
}

function toParseError(error: unknown, input: string, offset = 0, token = input): unknown {
  if (!(error instanceof GrammarError)) return error;
  const position = offset + error.position;
  // In a whole text field the column counts from its start, and the quoted text is the one override that failed.
  const hint = error.expected ? ` (expected ${error.expected})` : '';
  return new OverrideParseError(input, position, `${error.what} at column ${position + 1} in ${JSON.stringify(token)}${hint}`);
}

function parsing<T>(input: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw toParseError(error, input);
  }
}

function rejectControlCharacters(input: string): void {
  // The grammar would take a newline inside quotes; a form field and a batch script line must not.
  const control = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(input);
  if (control) fail(control.index, describeChar(control[0]));
}

function lex(input: string, startInValueMode: boolean): Token[] {
  rejectControlCharacters(input);
  const tokens: Token[] = [];
  let valueMode = startInValueMode;
  let at = 0;
  while (at < input.length) {
    let best: TokenType | null = null;
    let bestLength = 0;
    for (const [type, match] of valueMode ? VALUE_RULES : KEY_RULES) {
      const length = match(input, at);
      if (length > bestLength) {
        best = type;
        bestLength = length;
      }
    }
    // `$` alone is an unquoted character, but `${` that is no INTERPOLATION can never parse: say why.
    if (valueMode && best !== 'INTERPOLATION' && input.startsWith('${', at)) fail(at, 'interpolation "${" without a closing "}" (or empty)');
    if (best === null) {
      const char = String.fromCodePoint(input.codePointAt(at) ?? 0);
      if (valueMode && (char === '"' || char === "'")) fail(at, `unterminated ${char === '"' ? 'double' : 'single'}-quoted string`);
      fail(at, `unexpected ${JSON.stringify(char)}`);
    }
    // Only the key's `=` switches mode; a later `=` is a value token (function keyword arguments).
    if (best === 'EQUAL' && !valueMode) valueMode = true;
    tokens.push({ type: best, text: input.slice(at, at + bestLength), start: at, end: at + bestLength });
    at += bestLength;
  }
  tokens.push({ type: 'EOF', text: '', start: input.length, end: input.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------------------------
// Parse tree

type Element =
  | { kind: 'primitive'; tokens: Token[] }
  | { kind: 'list'; items: Element[] }
  | { kind: 'dict'; entries: { key: Token[]; value: Element }[] }
  | { kind: 'function'; name: string; args: { name: string | null; value: Element }[]; start: number };

type Value = Element | { kind: 'sweep'; items: Element[] };

const PRIMITIVE_TOKENS = new Set<TokenType>(['ID', 'NULL', 'INT', 'FLOAT', 'BOOL', 'INTERPOLATION', 'UNQUOTED_CHAR', 'COLON', 'ESC', 'WS']);
const DICT_KEY_TOKENS = new Set<TokenType>(['ID', 'NULL', 'INT', 'FLOAT', 'BOOL', 'UNQUOTED_CHAR', 'ESC', 'WS']);
const KEY_PART_TOKENS = new Set<TokenType>(['ID', 'KEY_SPECIAL', 'DOT_PATH']);

/**
 * The functions Hydra 1.3.2's OverridesParser registers (overrides_parser.create_functions), with their Python
 * signatures: the parser evaluates every call while parsing and refuses one Python cannot bind, so a call refused
 * there is refused here. Any other name fails there ("Unknown function"), `json_str` and `extend_list` included
 * (1.3.2 does not register them), so a job using them would fail only after its queue wait.
 */
interface Signature {
  /** Parameters a positional argument can fill, in order (none when the function takes *args). */
  params: string[];
  /** How many of `params` have no default. */
  required: number;
  varargs: boolean;
  /** Keyword-only parameters (after *args). */
  keywords: string[];
}

const cast: Signature = { params: [], required: 0, varargs: true, keywords: ['value'] };
const SIGNATURES: Record<string, Signature> = {
  int: cast,
  float: cast,
  str: cast,
  bool: cast,
  choice: { params: [], required: 0, varargs: true, keywords: [] },
  range: { params: ['start', 'stop', 'step'], required: 1, varargs: false, keywords: [] },
  interval: { params: ['start', 'end'], required: 2, varargs: false, keywords: [] },
  glob: { params: ['include', 'exclude'], required: 1, varargs: false, keywords: [] },
  tag: { params: [], required: 0, varargs: true, keywords: ['sweep'] },
  sort: { params: [], required: 0, varargs: true, keywords: ['sweep', 'list', 'reverse'] },
  shuffle: { params: [], required: 0, varargs: true, keywords: ['sweep', 'list'] },
};
const FUNCTIONS = new Set(Object.keys(SIGNATURES));

type Call = Extract<Element, { kind: 'function' }>;

/** The sweep a sort()/shuffle()/tag() call passes through (its `sweep=` or its one positional argument), if any. */
function innerSweep(call: Call): Element | undefined {
  const keyword = call.args.find((arg) => arg.name === 'sweep');
  if (keyword) return keyword.value;
  const positional = call.args.filter((arg) => arg.name === null);
  if (call.name === 'tag') return positional[positional.length - 1]?.value;
  return positional.length === 1 ? positional[0]!.value : undefined;
}

const CASTS = new Set(['int', 'float', 'str', 'bool']);

/**
 * The kind of sweep Hydra's evaluation of this element gives, or null for one value. sort(), shuffle(), tag() and the
 * casts keep the kind of the sweep they wrap; several values given to them make a simple choice.
 */
function sweepKind(element: Element): 'choice' | 'range' | 'interval' | 'glob' | null {
  if (element.kind !== 'function') return null;
  if (element.name === 'choice' || element.name === 'range' || element.name === 'interval' || element.name === 'glob') return element.name;
  const positional = element.args.filter((arg) => arg.name === null);
  if (CASTS.has(element.name)) {
    if (positional.length >= 2) return 'choice';
    const inner = positional[0]?.value ?? element.args.find((arg) => arg.name === 'value')?.value;
    return inner === undefined ? null : sweepKind(inner);
  }
  if (element.name === 'tag') {
    const inner = innerSweep(element);
    return inner === undefined ? null : sweepKind(inner);
  }
  if (element.name !== 'sort' && element.name !== 'shuffle') return null;
  // Several values (or, for shuffle, none) become a simple choice sweep; one value is passed through.
  if (positional.length >= 2 || (element.name === 'shuffle' && element.args.length === 0)) return 'choice';
  const inner = innerSweep(element);
  return inner === undefined ? null : sweepKind(inner);
}

/** Whether Hydra's evaluation of this element gives a Sweep (what tag() must end with; a glob is not one). */
function isSweep(element: Element): boolean {
  const kind = sweepKind(element);
  return kind !== null && kind !== 'glob';
}

/** Whether this element evaluates to a choice() sweep (not the simple `a,b` form), which choice() cannot nest. */
function isChoiceCall(element: Element): boolean {
  if (element.kind !== 'function') return false;
  if (element.name === 'choice') return true;
  if (element.name !== 'sort' && element.name !== 'shuffle' && element.name !== 'tag') return false;
  const inner = innerSweep(element);
  return inner !== undefined && isChoiceCall(inner);
}

type ArgumentType = 'number' | 'bool' | 'null' | 'string' | 'list' | 'dict' | 'sweep';

/** What an argument evaluates to, as Hydra's type check of a call's arguments sees it. */
function argumentType(element: Element): ArgumentType {
  if (element.kind === 'list' || element.kind === 'dict') return element.kind;
  if (element.kind === 'function') {
    if (element.name === 'int' || element.name === 'float') return 'number';
    return element.name === 'bool' ? 'bool' : element.name === 'str' ? 'string' : 'sweep';
  }
  const value = primitiveOf(element.tokens);
  return value === null ? 'null' : typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'bool' : 'string';
}

// The parameter types of grammar_functions.py that Hydra's Functions.eval checks (a bool passes as an int, as in Python).
const ARGUMENT_TYPES: Record<string, Record<string, ArgumentType[]>> = {
  range: { start: ['number', 'bool'], stop: ['number', 'bool', 'null'], step: ['number', 'bool'] },
  interval: { start: ['number', 'bool'], end: ['number', 'bool'] },
  glob: { include: ['string', 'list'], exclude: ['string', 'list', 'null'] },
};
const TYPE_NAMES: Record<ArgumentType, string> = { number: 'a number', bool: 'a boolean', null: 'null', string: 'a string', list: 'a list', dict: 'a mapping', sweep: 'a sweep' };

// Python's argument binding plus the checks Hydra's grammar functions make before anything else (grammar_functions.py),
// with Hydra's own wording so a user can search for it.
function checkCall(call: Call): void {
  const signature = SIGNATURES[call.name]!;
  const positional = call.args.filter((arg) => arg.name === null);
  const named = call.args.filter((arg) => arg.name !== null).map((arg) => arg.name!);
  const refuse = (what: string): never => fail(call.start, `${call.name}(...): ${what}`);
  if (!signature.varargs && positional.length > signature.params.length) {
    refuse(`takes at most ${signature.params.length} positional arguments (${signature.params.join(', ')}), got ${positional.length}`);
  }
  for (const [index, name] of named.entries()) {
    const position = signature.params.indexOf(name);
    if (position < 0 && !signature.keywords.includes(name)) refuse(`unexpected keyword argument ${JSON.stringify(name)}`);
    if (named.indexOf(name) !== index || (position >= 0 && position < positional.length)) refuse(`multiple values for argument ${JSON.stringify(name)}`);
  }
  const missing = signature.params.slice(positional.length, signature.required).find((param) => !named.includes(param));
  if (missing !== undefined) refuse(`missing a required argument ${JSON.stringify(missing)}`);
  const types = ARGUMENT_TYPES[call.name];
  if (types) {
    let position = 0;
    for (const arg of call.args) {
      const param = arg.name ?? signature.params[position++]!;
      const type = argumentType(arg.value);
      if (!types[param]!.includes(type)) refuse(`${param} must be ${types[param]!.map((allowed) => TYPE_NAMES[allowed]).join(' or ')}, not ${TYPE_NAMES[type]}`);
    }
  }
  switch (call.name) {
    case 'int':
    case 'float':
    case 'str':
    case 'bool': {
      if (positional.length === 0 && named.length === 0) refuse('no positional args or value specified');
      if (positional.length > 0 && named.length > 0) refuse('cannot use both position and named arguments');
      const kind = positional.length === 1 ? sweepKind(positional[0]!.value) : named.length === 1 ? sweepKind(call.args[0]!.value) : null;
      if (kind === 'glob') refuse('a glob() cannot be cast');
      if (kind === 'range' && (call.name === 'str' || call.name === 'bool')) refuse('Range can only be cast to int or float');
      if (kind === 'interval' && (call.name === 'str' || call.name === 'bool')) refuse(`Intervals cannot be cast to ${call.name}`);
      break;
    }
    case 'choice':
      if (positional.length === 0) refuse('empty choice is not legal');
      if (positional.length === 1 && isChoiceCall(positional[0]!.value)) refuse('nesting choices is not supported');
      break;
    case 'sort':
      if (positional.length === 0 && !named.includes('sweep') && !named.includes('list')) refuse('empty sort input');
      break;
    case 'tag': {
      if (positional.length === 0) refuse('not enough arguments to tag, must take at least a sweep');
      const sweep = call.args.find((arg) => arg.name === 'sweep') ?? positional[positional.length - 1]!;
      if (!isSweep(sweep.value)) refuse('the last argument must be a choice(), range() or interval()');
      const tags = call.args.filter((arg) => arg !== sweep && arg.name === null);
      if (tags.some((arg) => arg.value.kind !== 'primitive' || typeof primitiveOf(arg.value.tokens) !== 'string')) {
        refuse('tags before the sweep must be strings');
      }
      break;
    }
  }
}

// Lists, dicts and function calls recurse here (and in Hydra); a value nested deeper than any config needs would
// otherwise end in a RangeError from the call stack instead of a message about the input.
const MAX_NESTING = 100;

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  get current(): Token {
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
  }

  peek(offset: number): Token {
    return this.tokens[this.index + offset] ?? this.tokens[this.tokens.length - 1]!;
  }

  next(): Token {
    const token = this.current;
    if (token.type !== 'EOF') this.index++;
    return token;
  }

  unexpected(expected?: string): never {
    const token = this.current;
    const what =
      token.type === 'EOF' ? 'unexpected end of input' : token.type === 'WS' ? 'unexpected space' : `unexpected ${JSON.stringify(token.text.trim() || token.text)}`;
    // Tokens like ` ,` carry the whitespace before them; point at the character itself.
    const position = token.type === 'WS' ? token.start : token.start + (token.text.length - token.text.trimStart().length);
    fail(position, what, expected);
  }

  expect(type: TokenType, expected?: string): Token {
    if (this.current.type !== type) this.unexpected(expected);
    return this.next();
  }

  override(): Override {
    let prefix: Override['prefix'] = '';
    if (this.current.type === 'TILDE') {
      this.next();
      prefix = '~';
    } else if (this.current.type === 'PLUS') {
      this.next();
      prefix = '+';
      if (this.current.type === 'PLUS') {
        this.next();
        prefix = '++';
      }
    }
    const { key, package: pkg } = this.key();
    let value: string | null = null;
    if (prefix !== '~' || this.current.type !== 'EOF') {
      this.expect('EQUAL', '"=" after the key');
      value = this.valueText();
    }
    this.expect('EOF');
    return { prefix, key, package: pkg, value };
  }

  // key : packageOrGroup (AT package)? ; packageOrGroup: package | ID (SLASH ID)+
  key(): { key: string; package: string | null } {
    const first = this.current;
    let key: string;
    if (first.type === 'ID' && this.peek(1).type === 'SLASH') {
      const parts = [this.next().text];
      while (this.current.type === 'SLASH') {
        this.next();
        parts.push(this.expect('ID', 'a config group name after "/"').text);
      }
      key = parts.join('/');
    } else if (KEY_PART_TOKENS.has(first.type)) {
      key = this.next().text;
    } else if (first.type === 'EQUAL' || first.type === 'AT' || first.type === 'EOF') {
      // The grammar lets `package` be empty, so `=x` is a key-less override that Hydra only fails on later.
      fail(first.start, 'missing key', 'a key such as db.user or model/encoder');
    } else {
      this.unexpected('a key such as db.user or model/encoder');
    }
    let pkg: string | null = null;
    if (this.current.type === 'AT') {
      this.next();
      pkg = KEY_PART_TOKENS.has(this.current.type) ? this.next().text : '';
    }
    return { key, package: pkg };
  }

  valueText(): string {
    if (this.current.type === 'EOF') return '';
    const start = this.current.start;
    this.value();
    // Hydra drops whitespace that ends an unquoted value; `\ ` (an ESC token) is kept.
    let last = this.index - 1;
    while (last > 0 && this.tokens[last]!.type === 'WS') last--;
    return this.input.slice(start, this.tokens[last]!.end);
  }

  // value: element | simpleChoiceSweep
  value(): Value {
    const first = this.element();
    if (this.current.type !== 'COMMA') return first;
    const items = [first];
    while (this.current.type === 'COMMA') {
      this.next();
      items.push(this.element());
    }
    return { kind: 'sweep', items };
  }

  element(): Element {
    const token = this.current;
    if (token.type === 'QUOTED_VALUE') return { kind: 'primitive', tokens: [this.next()] };
    if (token.type === 'ID' && this.peek(1).type === 'POPEN') return this.nested(token, () => this.function());
    if (token.type === 'BRACKET_OPEN') return this.nested(token, () => this.list());
    if (token.type === 'BRACE_OPEN') return this.nested(token, () => this.dict());
    if (PRIMITIVE_TOKENS.has(token.type)) {
      const tokens: Token[] = [];
      while (PRIMITIVE_TOKENS.has(this.current.type)) tokens.push(this.next());
      if (tokens.every((t) => t.type === 'WS')) fail(token.start, 'a value that is only whitespace');
      return { kind: 'primitive', tokens };
    }
    this.unexpected('a value');
  }

  nested(token: Token, parse: () => Element): Element {
    if (this.depth >= MAX_NESTING) fail(token.start, `a value nested more than ${MAX_NESTING} deep`);
    this.depth++;
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  // function: ID POPEN (argName? element (COMMA argName? element)*)? PCLOSE ; argName: ID EQUAL
  function(): Element {
    const nameToken = this.next();
    if (!FUNCTIONS.has(nameToken.text)) {
      fail(nameToken.start, `unknown function ${JSON.stringify(nameToken.text)}`, [...FUNCTIONS].join(', '));
    }
    this.next();
    const args: { name: string | null; value: Element }[] = [];
    if (this.current.type !== 'PCLOSE') {
      for (;;) {
        let name: string | null = null;
        const argStart = this.current.start;
        if (this.current.type === 'ID' && this.peek(1).type === 'EQUAL') {
          name = this.next().text;
          this.next();
        } else if (args.some((arg) => arg.name !== null)) {
          // Not grammar but Hydra's visitor: it refuses this the same way Python does.
          fail(argStart, 'positional argument after a keyword argument');
        }
        args.push({ name, value: this.element() });
        if (this.current.type !== 'COMMA') break;
        this.next();
      }
    }
    this.expect('PCLOSE', '"," or ")"');
    const call: Call = { kind: 'function', name: nameToken.text, args, start: nameToken.start };
    checkCall(call);
    return call;
  }

  // listContainer: BRACKET_OPEN (element (COMMA element)*)? BRACKET_CLOSE
  list(): Element {
    this.next();
    const items: Element[] = [];
    if (this.current.type !== 'BRACKET_CLOSE') {
      items.push(this.element());
      while (this.current.type === 'COMMA') {
        this.next();
        items.push(this.element());
      }
    }
    this.expect('BRACKET_CLOSE', '"," or "]"');
    return { kind: 'list', items };
  }

  // dictContainer: BRACE_OPEN (dictKeyValuePair (COMMA dictKeyValuePair)*)? BRACE_CLOSE ; dictKeyValuePair: dictKey COLON element
  dict(): Element {
    this.next();
    const entries: { key: Token[]; value: Element }[] = [];
    if (this.current.type !== 'BRACE_CLOSE') {
      for (;;) {
        const key: Token[] = [];
        while (DICT_KEY_TOKENS.has(this.current.type)) key.push(this.next());
        if (key.length === 0) this.unexpected('a dictionary key');
        if (key.every((t) => t.type === 'WS')) fail(key[0]!.start, 'a dictionary key that is only whitespace');
        this.expect('COLON', '":" after the dictionary key');
        entries.push({ key, value: this.element() });
        if (this.current.type !== 'COMMA') break;
        this.next();
      }
    }
    this.expect('BRACE_CLOSE', '"," or "}"');
    return { kind: 'dict', entries };
  }
}

/** Parses one override as Hydra would receive it in one argv entry. */
export function parseOverride(token: string): Override {
  return parsing(token, () => new Parser(token, lex(token, false)).override());
}

function isSeparator(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r';
}

/** Splits what a user typed in one text field into argv-like tokens and parses each. */
export function parseOverrides(text: string): Override[] {
  const overrides: Override[] = [];
  let at = 0;
  while (at < text.length) {
    while (at < text.length && isSeparator(text[at]!)) at++;
    if (at >= text.length) break;
    const start = at;
    let depth = 0;
    while (at < text.length) {
      const char = text[at]!;
      if (depth === 0 && isSeparator(char)) break;
      if (char === '"' || char === "'") {
        const length = quotedValue(text, at);
        // An unclosed quote takes the rest of the line, so the error names the quote rather than a later fragment.
        at = length === 0 ? text.length : at + length;
        continue;
      }
      if (char === '\\') {
        at += 2;
        continue;
      }
      if (char === '(' || char === '[' || char === '{') depth++;
      else if ((char === ')' || char === ']' || char === '}') && depth > 0) depth--;
      at++;
    }
    at = Math.min(at, text.length);
    const token = text.slice(start, at);
    try {
      overrides.push(new Parser(token, lex(token, false)).override());
    } catch (error) {
      throw toParseError(error, text, start, token);
    }
  }
  return overrides;
}

/** Canonical text of an override; refuses parts that would not parse back to the same override. */
export function formatOverride(override: Override): string {
  const pkg = override.package === null ? '' : `@${override.package}`;
  const value = override.value === null ? (override.prefix === '~' ? '' : '=') : `=${override.value}`;
  const text = `${override.prefix}${override.key}${pkg}${value}`;
  const parsed = parseOverride(text);
  const same =
    parsed.prefix === override.prefix &&
    parsed.key === override.key &&
    parsed.package === override.package &&
    parsed.value === (override.value === null && override.prefix !== '~' ? '' : override.value);
  if (!same) throw new OverrideParseError(text, 0, `${JSON.stringify(text)} does not parse back into the same override (whitespace around the value?)`);
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Values

function everyOtherFromSecond(text: string): string {
  let out = '';
  for (let i = 1; i < text.length; i += 2) out += text[i];
  return out;
}

// Hydra's _unescape_quoted_string: only backslash runs in front of the quote character are escapes.
function unquote(text: string): string {
  const quote = text[0]!;
  const rest = text.slice(1);
  const escapes = quote === '"' ? /\\+"/g : /\\+'/g;
  let out = '';
  let last = 0;
  for (const match of rest.matchAll(escapes)) {
    out += rest.slice(last, match.index) + everyOtherFromSecond(match[0]);
    last = match.index + match[0].length;
  }
  const tail = rest.slice(last);
  if (tail.length > 1) out += tail.slice(0, -1);
  return out;
}

function numberOf(text: string): number {
  const plain = text.replace(/_/g, '').toLowerCase();
  if (plain.endsWith('inf')) return plain.startsWith('-') ? -Infinity : Infinity;
  if (plain.endsWith('nan')) return NaN;
  return Number(plain);
}

const TYPED_PRIMITIVES = new Set<TokenType>(['QUOTED_VALUE', 'INT', 'FLOAT', 'NULL', 'BOOL']);

/**
 * Hydra's _createPrimitive, its shape: surrounding whitespace dropped, several tokens (or an escape) are one string
 * with escapes removed, one quoted, number, null or boolean token is left for the caller to type.
 */
export function primitiveParts(tokens: Token[]): { text: string } | { token: Token } {
  let first = 0;
  let last = tokens.length;
  if (tokens[0]?.type === 'WS') first = 1;
  if (tokens.length > 1 && tokens[tokens.length - 1]?.type === 'WS') last--;
  const kept = tokens.slice(first, last);
  if (kept.length === 1 && TYPED_PRIMITIVES.has(kept[0]!.type)) return { token: kept[0]! };
  return { text: kept.map((t) => (t.type === 'ESC' ? everyOtherFromSecond(t.text) : t.text)).join('') };
}

function primitiveOf(tokens: Token[]): unknown {
  const parts = primitiveParts(tokens);
  if ('text' in parts) return parts.text;
  const { token } = parts;
  switch (token.type) {
    case 'QUOTED_VALUE':
      return unquote(token.text);
    case 'INT':
    case 'FLOAT':
      return numberOf(token.text);
    case 'NULL':
      return null;
    default:
      return token.text.toLowerCase() === 'true';
  }
}

function elementValue(element: Element): unknown {
  switch (element.kind) {
    case 'primitive': {
      const value = primitiveOf(element.tokens);
      return typeof value === 'string' ? appText(value) : value;
    }
    case 'list':
      return element.items.map((item) => elementValue(item));
    case 'dict':
      return Object.fromEntries(element.entries.map((entry) => [String(primitiveOf(entry.key)), elementValue(entry.value)]));
    case 'function':
      return fail(element.start, `${element.name}(...) is a function call, not a plain value`);
  }
}

/**
 * Whether an override's value stands for several values: a comma list, choice(), range(), interval(), glob(), or a
 * sort()/shuffle()/tag() of one. Hydra runs these only in a multirun (its Override.is_sweep_override); a single run
 * fails with "Ambiguous value".
 */
export function isSweepOverride(override: Override): boolean {
  const text = override.value;
  if (text === null || text === '') return false;
  return parsing(text, () => {
    const value = new Parser(text, lex(text, true)).value();
    return value.kind === 'sweep' || sweepKind(value) !== null;
  });
}

/**
 * A string as OmegaConf hands it to the app, interpolations unresolved: before `${`, 2n backslashes are n backslashes
 * (and an interpolation follows), 2n+1 are n backslashes and the text `${`. hydraValue writes the second form.
 */
function appText(text: string): string {
  return text.replace(/(\\+)\$\{/g, (_match, slashes: string) => `${'\\'.repeat(Math.floor(slashes.length / 2))}\${`);
}

/**
 * The parse tree of an override's value, for sweep.ts: a sweep's runs are Hydra's evaluation of this tree re-spelled
 * value by value (numbers, quotes and escapes as Python prints them), which the value text alone does not give.
 */
export function parseValueTree(text: string): Value {
  return parsing(text, () => {
    const parser = new Parser(text, lex(text, true));
    const value = parser.value();
    parser.expect('EOF');
    return value;
  });
}
export type { Token as ValueToken, Element as ValueElement, Value as ValueTree };
export { unquote as unquoteHydraString };

/**
 * The value an app gets from override value text: string, number, boolean, null, list or dict (strings as OmegaConf
 * reads them, see appText). Sweeps and function calls are refused: they stand for several values or need Hydra to
 * evaluate them.
 */
export function parseHydraValue(text: string): unknown {
  if (text === '') return '';
  return parsing(text, () => {
    const parser = new Parser(text, lex(text, true));
    const value = parser.value();
    parser.expect('EOF');
    if (value.kind === 'sweep') fail(0, 'a sweep (a,b,...) is several values, not one');
    return elementValue(value);
  });
}

// Characters that read as one string without quotes in every Hydra since 1.0 (`@ ? |` only since 1.1).
const PLAIN_STRING = /^[A-Za-z0-9_\-./:+%*$]+$/;

function quoteString(text: string): string {
  const quote = text.includes('"') && !text.includes("'") ? "'" : '"';
  // Backslashes in front of a quote (or of the closing quote) are doubled and the inner quote gets one more.
  const escaped = text.replace(quote === '"' ? /(\\*)("|$)/g : /(\\*)('|$)/g, (_match, slashes: string, end: string) =>
    end === quote ? `${slashes}${slashes}\\${quote}` : `${slashes}${slashes}`,
  );
  return `${quote}${escaped}${quote}`;
}

/**
 * A form value that has no spelling in Hydra's override syntax. A TypeError, as for any value of the wrong kind, but
 * its own class so that a caller holding user input can tell it from a programming error and name the field.
 */
export class UnspellableValueError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'UnspellableValueError';
  }
}

function readsBackAs(text: string, value: unknown): boolean {
  try {
    return Object.is(parseHydraValue(text), value);
  } catch {
    return false;
  }
}

function dictKeyText(key: string): string {
  const escaped = key.replace(/[\\()[\]{}:=, \t]/g, (char) => `\\${char}`);
  if (key === '' || !/^(?:[A-Za-z0-9_/\-+.$%*@?|]|\\[\\()[\]{}:=, \t])+$/.test(escaped)) {
    throw new UnspellableValueError(`dictionary key ${JSON.stringify(key)} cannot be written in Hydra's override syntax`);
  }
  // Hydra reads a key that is one number, boolean or null token as that value (its visitDictKey makes a primitive),
  // and the key has no quoted form: "1" or "null" would reach the config as 1 or None, not as the text sent.
  const tokens = lex(escaped, true).filter((token) => token.type !== 'EOF');
  if (tokens.length === 1 && (['INT', 'FLOAT', 'BOOL', 'NULL'] as TokenType[]).includes(tokens[0]!.type)) {
    throw new UnspellableValueError(`dictionary key ${JSON.stringify(key)} would reach Hydra as a ${tokens[0]!.type.toLowerCase()}, not as text`);
  }
  return escaped;
}

/**
 * Value text for a form value: numbers, booleans and null as Hydra literals, strings quoted only when Hydra would
 * otherwise read something else, lists as [a,b], plain objects as {k:v}. `${...}` inside a string is escaped, so the
 * app gets the text rather than an interpolation. Throws UnspellableValueError (a TypeError) for what has no Hydra spelling (undefined, functions, newlines).
 */
export function hydraValue(value: unknown): string {
  return spell(value, 0);
}

function spell(value: unknown, depth: number): string {
  if (depth > MAX_NESTING) throw new UnspellableValueError(`a value nested more than ${MAX_NESTING} deep`);
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (value === Infinity) return 'inf';
    if (value === -Infinity) return '-inf';
    return String(value);
  }
  if (typeof value === 'string') {
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      throw new UnspellableValueError(`string ${JSON.stringify(value)} has a control character, which cannot go into an override`);
    }
    // OmegaConf reads `${` as an interpolation even inside quotes: a form value is the text the app gets, so each
    // `${` is escaped as OmegaConf escapes it (`\${`, the backslashes before it doubled). Interpolations are for typed
    // overrides, where they are what the user wrote.
    const literal = value.replace(/(\\*)\$\{/g, (_match, slashes: string) => `${slashes}${slashes}\\\${`);
    if (literal === value && PLAIN_STRING.test(value) && readsBackAs(value, value)) return value;
    return quoteString(literal);
  }
  if (Array.isArray(value)) return `[${value.map((item) => spell(item, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `${dictKeyText(key)}:${spell(item, depth + 1)}`)
      .join(',')}}`;
  }
  throw new UnspellableValueError(`${typeof value} has no Hydra override spelling`);
}
