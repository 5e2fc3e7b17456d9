// A search box's text as FTS5 and PostgreSQL are asked (search.ts), and the index a SQLite database of an earlier
// release gets when it is migrated: its jobs are found at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ormConfig } from '../db/orm-config.js';
import type { Orm } from '../db/orm.js';
import { listJobs } from './queries.js';
import { ftsMatch, searchPlan, tsQuery } from './search.js';

describe('searchPlan', () => {
  it('makes the words one phrase in name or description, the last word a prefix unless the text ends after it', () => {
    expect(searchPlan('vit-large')).toEqual({ kind: 'words', words: ['vit', 'large'], prefix: true });
    expect(searchPlan('  vit large ')).toEqual({ kind: 'words', words: ['vit', 'large'], prefix: true });
    expect(searchPlan('100%')).toEqual({ kind: 'words', words: ['100'], prefix: false });
    expect(searchPlan('lr_0.1')).toEqual({ kind: 'words', words: ['lr', '0', '1'], prefix: true });
    expect(searchPlan('Café-Über 7')).toEqual({ kind: 'words', words: ['Café', 'Über', '7'], prefix: true });
  });

  it('asks FTS5 for the phrase in name or description, narrowed to a project inside the index', () => {
    expect(ftsMatch({ words: ['vit', 'large'], prefix: true })).toBe('{name description} : "vit large" *');
    expect(ftsMatch({ words: ['100'], prefix: false })).toBe('{name description} : "100"');
    expect(ftsMatch({ words: ['vit'], prefix: true }, 7)).toBe('({name description} : "vit" *) AND project_id : "7"');
  });

  it('asks PostgreSQL for the phrase within the name (A) or within the description (B), the last word a prefix', () => {
    expect(tsQuery({ words: ['vit', 'large'], prefix: true })).toBe(`('vit':A <-> 'large':*A) | ('vit':B <-> 'large':*B)`);
    expect(tsQuery({ words: ['100'], prefix: false })).toBe(`('100':A) | ('100':B)`);
  });

  it('keeps query syntax out of the query: only words, each inside one quoted string', () => {
    for (const text of ['"a" OR "b"', 'NEAR(a b)', 'a AND NOT b', '{name}: a*', 'a"b', '^a + b:c', "a' | !b", 'a <-> b:*']) {
      const plan = searchPlan(text);
      expect(plan?.kind).toBe('words');
      const words = (plan as { words: string[]; prefix: boolean });
      for (const word of words.words) expect(word, text).toMatch(/^[\p{L}\p{N}\p{Co}]+$/u);
      const match = ftsMatch(words);
      expect(match.match(/"/g), text).toHaveLength(2);
      expect(match.slice('{name description} : '.length).replace(/"[^"]*"( \*)?/, ''), text).toBe('');
      expect(tsQuery(words).replace(/'[\p{L}\p{N}\p{Co}]+':\*?[AB]/gu, 'w'), text).toMatch(/^\(w( <-> w)*\) \| \(w( <-> w)*\)$/);
    }
  });

  it('hands text without a word to LIKE, escaped, and nothing to search for to no filter', () => {
    expect(searchPlan('%_\\')).toEqual({ kind: 'text', pattern: '%\\%\\_\\\\%' });
    expect(searchPlan('"*"')).toEqual({ kind: 'text', pattern: '%"*"%' });
    expect(searchPlan('   ')).toBeNull();
    expect(searchPlan('')).toBeNull();
    expect(searchPlan(null)).toBeNull();
  });
});

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

it('indexes the jobs a database already had when it is migrated', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-search-'));
  dirs.push(dir);
  const orm = (await MikroORM.init(await ormConfig(join(dir, 'mission-control.sqlite')))) as Orm;
  try {
    await orm.getMigrator().up({ to: 'Migration20261205062000' });
    const connection = orm.em.getConnection();
    for (const [id, name, description, project] of [[1, 'vit-large-a', 'first', 1], [2, 'resnet', 'a vit-large run', 2], [3, 'other', 'nothing', 1]] as const) {
      await connection.execute(
        "insert into job (id, tag, project_id, cluster, name, description, commit_sha, input, script, job_dir, state, archived, created_at, updated_at) values (?, ?, ?, 'alpha', ?, ?, 'c', '{}', '#!/bin/bash', '/d', 'COMPLETED', 0, 0, 0)",
        [id, `t${id}`, project, name, description],
      );
    }
    await orm.getMigrator().up();
    const found = async (search: string, projectId?: number) => (await listJobs(orm.em.fork(), { search, projectId }, 50, null)).jobs.map((job) => job.id);
    expect(await found('vit-large')).toEqual([2, 1]);
    expect(await found('vit-large', 1)).toEqual([1]);
    expect(await found('nothing')).toEqual([3]);
  } finally {
    await orm.close();
  }
});
