// A project's lineage (jobLineage, oldest first, each with its parent) as a tree to draw with indentation.
import type { LineageNode } from '../api/jobs';

export interface LineageTreeNode {
  node: LineageNode;
  depth: number;
  children: LineageTreeNode[];
}

/**
 * Roots are jobs without a parent, or whose parent is not in the list (archived or from another project): they
 * still show, at the top level. Children keep the server's order (oldest first).
 */
export function buildLineageTree(nodes: readonly LineageNode[]): LineageTreeNode[] {
  const byId = new Map<number, LineageTreeNode>();
  for (const node of nodes) byId.set(node.job.id, { node, depth: 0, children: [] });
  const roots: LineageTreeNode[] = [];
  for (const node of nodes) {
    const entry = byId.get(node.job.id)!;
    const parent = node.parentId !== null && node.parentId !== node.job.id ? byId.get(node.parentId) : undefined;
    if (parent) parent.children.push(entry);
    else roots.push(entry);
  }
  // Depths from the roots; a cycle (never expected) cannot loop forever because each node is visited once.
  const seen = new Set<number>();
  const walk = (entry: LineageTreeNode, depth: number) => {
    if (seen.has(entry.node.job.id)) return;
    seen.add(entry.node.job.id);
    entry.depth = depth;
    for (const child of entry.children) walk(child, depth + 1);
  };
  roots.forEach((root) => walk(root, 0));
  return roots;
}

/** The tree in reading order, each entry with its depth and whether it is its parent's last child. */
export function flattenTree(roots: readonly LineageTreeNode[]): Array<{ entry: LineageTreeNode; last: boolean }> {
  const out: Array<{ entry: LineageTreeNode; last: boolean }> = [];
  const visit = (entry: LineageTreeNode, last: boolean, seen: Set<number>) => {
    if (seen.has(entry.node.job.id)) return;
    seen.add(entry.node.job.id);
    out.push({ entry, last });
    entry.children.forEach((child, index) => visit(child, index === entry.children.length - 1, seen));
  };
  const seen = new Set<number>();
  roots.forEach((root, index) => visit(root, index === roots.length - 1, seen));
  return out;
}
