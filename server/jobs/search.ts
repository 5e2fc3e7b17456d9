// A job search box's text → what the database is asked: a full-text query of the job_search index for text with words
// (SQLite: FTS5, migrations/sqlite/Migration20261205080000.ts; PostgreSQL: tsvectors, migrations/postgresql/
// Migration20261206000000.ts), a LIKE for text without any.

/**
 * A word character for FTS5's unicode61 tokenizer as the index uses it (its default categories: letters, numbers,
 * private use); everything else, punctuation, spaces and symbols alike, separates words.
 */
const WORD_CHARACTER = '[\\p{L}\\p{N}\\p{Co}]';
const WORDS = new RegExp(`${WORD_CHARACTER}+`, 'gu');
const ENDS_IN_WORD = new RegExp(`${WORD_CHARACTER}$`, 'u');

export type SearchPlan =
  /** Words to find as a phrase: in a row, the last one a prefix when `prefix`. */
  | { kind: 'words'; words: string[]; prefix: boolean }
  /** A LIKE pattern (escape character `\`) on name and description: text with no word in it, like `%` or `"`. */
  | { kind: 'text'; pattern: string }
  | null;

/**
 * What a user typing in a search box means. Their words, in their order, adjacent, in the name or in the description
 * (a phrase: "vit-large" is the words vit and large, one after the other; "vit large" and "vit_large" find the same);
 * each word is a whole word except the last, which is the start of one ("vit-la" finds "vit-large"), unless the text
 * ends with a separator ("100%" finds "100 %", not "1000"). A word is never found from its middle ("large" does not
 * find "vitlarge", which LIKE '%large%' did): the indexes hold words, from their start. Quotes, `*`, `AND`, `NEAR(`,
 * `<->` are the user's text, never query syntax: only words (letters and digits) reach a query.
 */
export function searchPlan(text: string | null | undefined): SearchPlan {
  const trimmed = text?.trim() ?? '';
  if (!trimmed) return null;
  const words = trimmed.match(WORDS);
  if (!words) return { kind: 'text', pattern: `%${trimmed.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
  return { kind: 'words', words, prefix: ENDS_IN_WORD.test(trimmed) };
}

/**
 * The phrase as SQLite's FTS5 is asked (`job_search MATCH ?`), each word inside one quoted string. `projectId` narrows
 * the match itself to the project's rows (the index holds it), so a word common elsewhere and rare in the project does
 * not walk every other project's matches.
 */
export function ftsMatch({ words, prefix }: { words: string[]; prefix: boolean }, projectId?: number | null): string {
  const phrase = `{name description} : "${words.join(' ')}"${prefix ? ' *' : ''}`;
  return projectId == null ? phrase : `(${phrase}) AND project_id : "${projectId}"`;
}

/**
 * The phrase as PostgreSQL's to_tsquery('simple', ?) is asked (`job_search.document @@`): adjacent words (`<->`) all of
 * weight A (the name) or all of weight B (the description), so that a phrase never runs from the end of the name into
 * the description; `:*` makes the last word a prefix.
 */
export function tsQuery({ words, prefix }: { words: string[]; prefix: boolean }): string {
  const phrase = (weight: 'A' | 'B') => words.map((word, index) => `'${word}':${prefix && index === words.length - 1 ? '*' : ''}${weight}`).join(' <-> ');
  return `(${phrase('A')}) | (${phrase('B')})`;
}
