// A job search box's text → what SQLite is asked: a full-text query of the job_search index (migrations/
// Migration20261205080000.ts) for text with words, a LIKE for text without any.

/**
 * A word character for FTS5's unicode61 tokenizer as the index uses it (its default categories: letters, numbers,
 * private use); everything else, punctuation, spaces and symbols alike, separates words.
 */
const WORD_CHARACTER = '[\\p{L}\\p{N}\\p{Co}]';
const WORDS = new RegExp(`${WORD_CHARACTER}+`, 'gu');
const ENDS_IN_WORD = new RegExp(`${WORD_CHARACTER}$`, 'u');

export type SearchPlan =
  /** `match` for `job_search MATCH ?`: the words in a row, the last one a prefix unless the text ends after it. */
  | { kind: 'words'; match: string }
  /** A LIKE pattern (escape character `\`) on name and description: text with no word in it, like `%` or `"`. */
  | { kind: 'text'; pattern: string }
  | null;

/**
 * What a user typing in a search box means, in FTS5 terms. Their words, in their order, adjacent, in the name or in the
 * description (a phrase: "vit-large" is the words vit and large, one after the other; "vit large" and "vit_large" find
 * the same); each word is a whole word except the last, which is the start of one ("vit-la" finds "vit-large"), unless
 * the text ends with a separator ("100%" finds "100 %", not "1000"). A word is never found from its middle ("large"
 * does not find "vitlarge", which LIKE '%large%' did): FTS5 indexes words, from their start. Quotes, `*`, `AND`,
 * `NEAR(` are the user's text, never query syntax: only words reach the query, each inside one quoted string.
 * `projectId` narrows the match itself to the project's rows (the index holds it), so a word common elsewhere and rare
 * in the project does not walk every other project's matches.
 */
export function searchPlan(text: string | null | undefined, projectId?: number | null): SearchPlan {
  const trimmed = text?.trim() ?? '';
  if (!trimmed) return null;
  const words = trimmed.match(WORDS);
  if (!words) return { kind: 'text', pattern: `%${trimmed.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
  const phrase = `{name description} : "${words.join(' ')}"${ENDS_IN_WORD.test(trimmed) ? ' *' : ''}`;
  return { kind: 'words', match: projectId == null ? phrase : `(${phrase}) AND project_id : "${projectId}"` };
}
