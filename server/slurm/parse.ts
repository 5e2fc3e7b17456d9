// Pure parsers: SLURM command output in, typed values out. No I/O, so they are tested on recorded outputs.

/** A partition as `sinfo` describes it, kept with each cluster check. */
export interface PartitionInfo {
  name: string;
  isDefault: boolean;
  available: boolean;
  nodes: number;
  /** Node states with their counts, e.g. idle: 2, mix: 1. */
  states: Array<{ state: string; nodes: number }>;
}

/** `sinfo --version` prints e.g. "slurm 22.05.8" (some builds say "slurm-wlm 22.05.8"). */
export function parseSlurmVersion(output: string): string | null {
  return /^slurm\S*\s+(\d[\w.-]*)/m.exec(output.trim())?.[1] ?? null;
}

/** `sinfo -h -o '%P|%a|%D|%t'`: one line per (partition, node state); the default partition carries a `*`. */
export function parseSinfoPartitions(output: string): PartitionInfo[] {
  const partitions = new Map<string, PartitionInfo>();
  for (const line of output.split('\n')) {
    const [rawName, availability, count, state] = line.trim().split('|');
    if (!rawName || availability === undefined || count === undefined || state === undefined) continue;
    // A count too long to be held exactly is a garbled line, not a partition.
    const nodes = /^\d+$/.test(count) ? Number(count) : Number.NaN;
    if (!Number.isSafeInteger(nodes)) continue;
    const name = rawName.replace(/\*$/, '');
    const partition = partitions.get(name) ?? { name, isDefault: rawName.endsWith('*'), available: availability === 'up', nodes: 0, states: [] };
    partition.nodes += nodes;
    partition.states.push({ state, nodes });
    partitions.set(name, partition);
  }
  return [...partitions.values()];
}
