// Every remote command names its kind (server/ssh/observed-transport.ts logs and counts commands by it): a command
// added without one would be logged as plain 'sh', indistinguishable from every other script.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = import.meta.dirname;

/** The text of each `transport.exec(...)`/`transport.stream(...)` call, parentheses matched. */
function remoteCalls(source: string): string[] {
  const calls: string[] = [];
  for (const match of source.matchAll(/transport\.(?:exec|stream)\(/g)) {
    let depth = 1;
    let end = match.index + match[0].length;
    while (depth > 0 && end < source.length) {
      const char = source[end++];
      if (char === '(') depth += 1;
      else if (char === ')') depth -= 1;
    }
    calls.push(source.slice(match.index, end));
  }
  return calls;
}

describe('remote commands', () => {
  const files = readdirSync(DIR).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));
  const calls = files.flatMap((file) => remoteCalls(readFileSync(join(DIR, file), 'utf8')).map((call) => ({ file, call })));

  it('are found (the scan reads the calls)', () => {
    expect(calls.length).toBeGreaterThan(10);
  });

  it('each name a kind, distinct across commands', () => {
    expect(calls.filter(({ call }) => !/\bkind: '[a-z][a-z-]*'/.test(call))).toEqual([]);
    const kinds = calls.map(({ call }) => /\bkind: '([a-z-]+)'/.exec(call)![1]);
    expect(new Set(kinds).size).toBe(kinds.length);
  });
});
