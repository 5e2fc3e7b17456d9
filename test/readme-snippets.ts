// The README's Python examples, which CI runs as written: each is found by what it contains, so moving a section of
// the README moves no test.
import { readFileSync } from 'node:fs';

/** The README's ```python block holding every text of `includes` and none of `excludes`. */
export function readmePython(includes: string[], excludes: string[] = []): string {
  const blocks = [...readFileSync(new URL('../README.md', import.meta.url), 'utf8').matchAll(/```python\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const found = blocks.find((code) => includes.every((text) => code.includes(text)) && !excludes.some((text) => code.includes(text)));
  if (found === undefined) throw new Error(`README.md has no python block with ${JSON.stringify(includes)} and without ${JSON.stringify(excludes)}`);
  return found;
}
