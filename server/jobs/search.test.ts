// A search box's text as FTS5 is asked (search.ts), and the index a database of an earlier release gets when it is
// migrated: its jobs are found at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { ormConfig } from '../db/orm-config.js';
import { listJobs } from './queries.js';
import { searchPlan } from './search.js';

describe('searchPlan', () => {
  it('makes the words one phrase in name or description, the last word a prefix unless the text ends after it', () => {
    expect(searchPlan('vit-large')).toEqual({ kind: 'words', match: '{name description} : "vit large" *' });
    expect(searchPlan('  vit large ')).toEqual({ kind: 'words', match: '{name description} : "vit large" *' });
    expect(searchPlan('100%')).toEqual({ kind: 'words', match: '{name description} : "100"' });
    expect(searchPlan('lr_0.1')).toEqual({ kind: 'words', match: '{name description} : "lr 0 1" *' });
    expect(searchPlan('Café-Über 7')).toEqual({ kind: 'words', match: '{name description} : "Café Über 7" *' });
  });

  it('narrows the match to a project inside the index', () => {
    expect(searchPlan('vit', 7)).toEqual({ kind: 'words', match: '({name description} : "vit" *) AND project_id : "7"' });
  });

  it('keeps FTS5 syntax out of the query: only words, inside one quoted string', () => {
    for (const text of ['"a" OR "b"', 'NEAR(a b)', 'a AND NOT b', '{name}: a*', 'a"b', '^a + b:c']) {
      const plan = searchPlan(text);
      expect(plan?.kind).toBe('words');
      const match = (plan as { match: string }).match;
      expect(match.match(/"/g), text).toHaveLength(2);
      expect(match.slice('{name description} : '.length).replace(/"[^"]*"( \*)?/, ''), text).toBe('');
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
  const orm = await MikroORM.init(ormConfig(join(dir, 'mission-control.sqlite')));
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
