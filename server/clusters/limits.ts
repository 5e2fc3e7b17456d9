// What a launch on each partition of a cluster may ask for and gets by default: the partition's own limits, the
// site's memory defaults where the partition sets none, and what its largest nodes have (a job larger than every node
// is refused by SLURM as "Requested node configuration is not available", which names nothing). Read from the cached
// cluster check (./gpu.ts), so checking a launch costs no remote command of its own.
import type { GpuInventory } from '../slurm/gpu.js';

export interface PartitionFacts {
  name: string;
  isDefault: boolean;
  /** Minutes; null is unlimited. */
  maxTimeMinutes: number | null;
  /** What a launch without a time limit gets, in minutes; null: the partition's MaxTime. */
  defaultTimeMinutes: number | null;
  /** Nodes in the partition (any state), and its MaxNodes; null unlimited. */
  nodeCount: number;
  maxNodes: number | null;
  /** The most CPUs and memory (MB) one node offers (and the partition allows per node); null unknown. */
  maxCpusPerNode: number | null;
  maxMemoryPerNodeMb: number | null;
  /** Where the cap comes from, for the message: the partition's MaxMemPerNode, the site's, or the largest node. */
  memoryCapSource: 'partition' | 'site' | 'node' | null;
  /** Memory a launch without one gets: per CPU or per node (MB), from the partition or else the site; null none. */
  defaultMemoryPerCpuMb: number | null;
  defaultMemoryPerNodeMb: number | null;
  /** Most GPUs of each type on one node, and of any type together. */
  gpusPerNodeByType: Array<{ type: string; count: number }>;
  maxGpusPerNode: number;
  /** Null: all. */
  allowAccounts: string[] | null;
  allowQos: string[] | null;
  denyAccounts: string[];
  denyQos: string[];
}

const smallest = (...values: Array<number | null>) => {
  const known = values.filter((value): value is number => value !== null);
  return known.length > 0 ? Math.min(...known) : null;
};
const largest = (values: Array<number | null>) => {
  const known = values.filter((value): value is number => value !== null);
  return known.length > 0 ? Math.max(...known) : null;
};

export function partitionFacts(inventory: Pick<GpuInventory, 'nodes' | 'partitions' | 'siteMemory'>): PartitionFacts[] {
  const { siteMemory } = inventory;
  return inventory.partitions.map((partition) => {
    const nodes = inventory.nodes.filter((node) => node.partitions.includes(partition.name));
    const nodeMemory = largest(nodes.map((node) => node.memoryMb));
    const configuredCap = partition.maxMemPerNodeMb ?? siteMemory.maxMemPerNodeMb;
    const maxMemoryPerNodeMb = smallest(configuredCap, nodeMemory);
    const byType = new Map<string, number>();
    for (const node of nodes) for (const gpu of node.gpus) byType.set(gpu.type, Math.max(byType.get(gpu.type) ?? 0, gpu.total));
    // A partition's own default memory wins over the site's, whichever of per-CPU or per-node either sets.
    const ownDefault = partition.defMemPerCpuMb !== null || partition.defMemPerNodeMb !== null;
    return {
      name: partition.name,
      isDefault: partition.isDefault,
      maxTimeMinutes: partition.maxTimeMinutes,
      defaultTimeMinutes: partition.defaultTimeMinutes,
      nodeCount: nodes.length,
      maxNodes: partition.maxNodes,
      maxCpusPerNode: smallest(partition.maxCpusPerNode, largest(nodes.map((node) => node.cpus))),
      maxMemoryPerNodeMb,
      memoryCapSource: maxMemoryPerNodeMb === null ? null : maxMemoryPerNodeMb === nodeMemory ? 'node' : partition.maxMemPerNodeMb !== null ? 'partition' : 'site',
      defaultMemoryPerCpuMb: ownDefault ? partition.defMemPerCpuMb : siteMemory.defMemPerCpuMb,
      defaultMemoryPerNodeMb: ownDefault ? partition.defMemPerNodeMb : siteMemory.defMemPerNodeMb,
      gpusPerNodeByType: [...byType].map(([type, count]) => ({ type, count })).sort((a, b) => a.type.localeCompare(b.type)),
      maxGpusPerNode: Math.max(0, ...nodes.map((node) => node.gpus.reduce((sum, gpu) => sum + gpu.total, 0))),
      allowAccounts: partition.allowAccounts,
      allowQos: partition.allowQos,
      denyAccounts: partition.denyAccounts,
      denyQos: partition.denyQos,
    };
  });
}
