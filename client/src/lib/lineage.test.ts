import { describe, expect, it } from 'vitest';
import type { JobSummary, LineageNode } from '../api/jobs';
import { buildLineageTree, flattenTree } from './lineage';

const node = (id: number, parentId: number | null, changes: string[] = []): LineageNode => ({ parentId, changes, job: { id, name: `job${id}` } as JobSummary });

describe('the lineage tree', () => {
  it('puts clones under their parents in the server order, with depths', () => {
    const roots = buildLineageTree([node(1, null), node(2, 1, ['seed: (default) → 7']), node(3, null), node(4, 2), node(5, 1)]);
    expect(roots.map((root) => root.node.job.id)).toEqual([1, 3]);
    expect(roots[0]!.children.map((child) => child.node.job.id)).toEqual([2, 5]);
    expect(roots[0]!.children[0]!.children[0]!).toMatchObject({ depth: 2, node: { job: { id: 4 } } });
    expect(flattenTree(roots).map(({ entry, last }) => [entry.node.job.id, entry.depth, last])).toEqual([
      [1, 0, false],
      [2, 1, false],
      [4, 2, true],
      [5, 1, true],
      [3, 0, true],
    ]);
  });

  it('shows a job whose parent is not in the list (archived, another project) at the top level', () => {
    const roots = buildLineageTree([node(7, 3), node(8, 7)]);
    expect(roots.map((root) => root.node.job.id)).toEqual([7]);
    expect(roots[0]!.children[0]!.depth).toBe(1);
  });
});
