import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../api/jobs';
import { applyJobUpdate, countByCluster, isActive, jobMatches, latestByProject, textMatches } from './job-list';

const job = (id: number, changes: Partial<JobSummary> = {}) => ({ id, projectId: 1, cluster: 'lab', state: 'PENDING', name: 'ml-project', description: '', archived: false, ...changes }) as JobSummary;

describe('a live job list', () => {
  it('replaces a listed job in place and inserts a new one in id order', () => {
    const list = [job(5), job(3)];
    expect(applyJobUpdate(list, job(3, { state: 'RUNNING' }), { matches: () => true }).map((entry) => [entry.id, entry.state])).toEqual([
      [5, 'PENDING'],
      [3, 'RUNNING'],
    ]);
    expect(applyJobUpdate(list, job(4), { matches: () => true }).map((entry) => entry.id)).toEqual([5, 4, 3]);
    expect(applyJobUpdate(list, job(9), { matches: () => true, limit: 2 }).map((entry) => entry.id)).toEqual([9, 5]);
    expect(applyJobUpdate(list, job(1), { matches: () => true }).map((entry) => entry.id)).toEqual([5, 3, 1]);
  });

  it('drops a job that stops matching only when asked to', () => {
    const running = (entry: JobSummary) => isActive(entry.state);
    const list = [job(2, { state: 'RUNNING' })];
    expect(applyJobUpdate(list, job(2, { state: 'COMPLETED' }), { matches: running, removeUnmatched: true })).toEqual([]);
    expect(applyJobUpdate(list, job(2, { state: 'COMPLETED' }), { matches: running })[0]!.state).toBe('COMPLETED');
    expect(applyJobUpdate(list, job(8, { state: 'FAILED' }), { matches: running })).toHaveLength(1);
  });

  it('matches the server’s filter: states, cluster, archived and text in name or description', () => {
    const entry = job(1, { state: 'RUNNING', description: 'ViT baseline', cluster: 'alps' });
    expect(jobMatches({ states: ['RUNNING'], cluster: 'alps', search: 'vit', archived: false }, entry)).toBe(true);
    expect(jobMatches({ states: ['PENDING'] }, entry)).toBe(false);
    expect(jobMatches({ cluster: 'lab' }, entry)).toBe(false);
    expect(jobMatches({ archived: false }, { ...entry, archived: true })).toBe(false);
    expect(jobMatches({}, { ...entry, archived: true })).toBe(true);
    expect(jobMatches({ search: 'resnet' }, entry)).toBe(false);
    // A sweep's task belongs only in a list of tasks (the server's jobs leaves them out by default).
    const task = { ...entry, sweepId: 4 };
    expect(jobMatches({}, task)).toBe(false);
    expect(jobMatches({ tasks: true }, task)).toBe(true);
    expect(jobMatches({ sweepId: 4 }, task)).toBe(true);
    expect(jobMatches({ sweepId: 5 }, task)).toBe(false);
    expect(jobMatches({ sweepId: 4 }, entry)).toBe(false);
  });

  it('searches as the server’s index does: words from their start, in order, the last one a prefix', () => {
    const cases: Array<[search: string, text: string, found: boolean]> = [
      ['vit-large', 'ViT-Large baseline', true],
      ['vit-la', 'vit-large', true],
      ['vit large', 'vit_large', true],
      ['ViT L', 'ViT-L/16 on alps', true],
      ['large vit', 'vit-large', false],
      ['large', 'vitlarge', false],
      ['esnet', 'resnet50', false],
      ['r', 'other run', true],
      ['r', 'other', false],
      ['"resnet"', 'resnet sweep', true],
      ['resnet*', 'resnet sweep', true],
      // Ending after a separator, the last word is whole.
      ['"resnet"', 'resnet50 sweep', false],
      ['100%', 'lr 100 % warmup', true],
      ['100%', 'lr 1000', false],
      ['100', 'lr 1000', true],
      ['%', 'lr 100 % warmup', true],
      ['%', 'lr 100 warmup', false],
    ];
    for (const [search, text, found] of cases) expect(textMatches(search, text), `${search} in ${text}`).toBe(found);
    expect(jobMatches({ search: 'base' }, job(1, { name: 'train', description: 'ViT baseline' }))).toBe(true);
  });

  it('counts running and pending jobs per cluster, and keeps each project’s newest', () => {
    const jobs = [job(6, { state: 'RUNNING' }), job(5, { state: 'COMPLETING', projectId: 2 }), job(4, { cluster: 'alps' }), job(3, { state: 'SUBMITTING' }), job(2, { state: 'COMPLETED' })];
    expect(Object.fromEntries(countByCluster(jobs))).toEqual({ lab: { running: 2, pending: 1 }, alps: { running: 0, pending: 1 } });
    expect([...latestByProject(jobs, 2)].map(([project, entries]) => [project, entries.map((entry) => entry.id)])).toEqual([
      [1, [6, 4]],
      [2, [5]],
    ]);
  });
});
