// A launch's resources checked against what its partition allows, before anything is stored or sent: SLURM refuses
// most of these only as "Requested node configuration is not available" (naming no field), or queues a job that can
// never start. The refusal names the field and the limit ("partition gpu allows at most 2-00:00:00").
import type { PartitionFacts } from '../clusters/limits.js';
import type { GpuRequestStyle, Resources } from '../slurm/script.js';
import { memory as memorySize, timeLimit as timeLimitOf } from '../slurm/values.js';
import { ValidationError } from '../errors.js';

/** Minutes as SLURM writes a time limit: D-HH:MM:SS, or HH:MM:SS under a day. */
export function slurmDuration(minutes: number): string {
  const total = Math.round(minutes * 60);
  const days = Math.floor(total / 86_400);
  const pad = (value: number) => String(value).padStart(2, '0');
  const clock = `${pad(Math.floor((total % 86_400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}

/** Megabytes as SLURM writes them: 4000M, or in G/T when whole. */
export function slurmMemory(megabytes: number): string {
  if (megabytes >= 1024 * 1024 && megabytes % (1024 * 1024) === 0) return `${megabytes / (1024 * 1024)}T`;
  if (megabytes >= 1024 && megabytes % 1024 === 0) return `${megabytes / 1024}G`;
  return `${megabytes}M`;
}

/** The partition a launch goes to: the one it names, or the cluster's default. Null when it cannot be told. */
export function partitionOf(partitions: readonly PartitionFacts[], name: string | null): PartitionFacts | null {
  return name === null ? (partitions.find((partition) => partition.isDefault) ?? null) : (partitions.find((partition) => partition.name === name) ?? null);
}

/** The memory a launch without one gets on a partition, in MB, and how it is worded; null when the site sets none. */
export function defaultMemory(partition: PartitionFacts, cpusPerTask: number): { megabytes: number; words: string } | null {
  if (partition.defaultMemoryPerNodeMb !== null) return { megabytes: partition.defaultMemoryPerNodeMb, words: `${slurmMemory(partition.defaultMemoryPerNodeMb)} per node` };
  if (partition.defaultMemoryPerCpuMb !== null) {
    const megabytes = partition.defaultMemoryPerCpuMb * cpusPerTask;
    return { megabytes, words: `${slurmMemory(partition.defaultMemoryPerCpuMb)} per CPU${cpusPerTask > 1 ? ` × ${cpusPerTask} CPUs = ${slurmMemory(megabytes)}` : ''}` };
  }
  return null;
}

/**
 * Throws a ValidationError naming the first field the partition cannot give. A cluster whose partitions could not be
 * read is not checked here (SLURM's own preflight still is).
 */
export function checkAgainstPartition(resources: Resources, partitions: readonly PartitionFacts[], cluster: string, gpuRequestStyle: GpuRequestStyle): void {
  if (partitions.length === 0) return;
  const partition = partitionOf(partitions, resources.partition);
  if (!partition) {
    if (resources.partition !== null) throw new ValidationError('partition', `${cluster} has no partition ${resources.partition}: it has ${partitions.map((entry) => entry.name).join(', ')}`);
    return;
  }
  const named = `partition ${partition.name}`;

  if (resources.timeLimit !== null && partition.maxTimeMinutes !== null && timeLimitOf('timeLimit', resources.timeLimit).minutes > partition.maxTimeMinutes) {
    throw new ValidationError('timeLimit', `${named} allows at most ${slurmDuration(partition.maxTimeMinutes)}`);
  }
  const maxNodes = Math.min(partition.nodeCount, partition.maxNodes ?? Infinity);
  if (resources.nodes > maxNodes) {
    throw new ValidationError('nodes', partition.maxNodes !== null && partition.maxNodes < partition.nodeCount ? `${named} allows at most ${partition.maxNodes} nodes per job` : `${named} has ${partition.nodeCount} node${partition.nodeCount === 1 ? '' : 's'}`);
  }
  if (partition.maxCpusPerNode !== null && resources.cpusPerTask > partition.maxCpusPerNode) {
    throw new ValidationError('cpusPerTask', `the nodes of ${named} have at most ${partition.maxCpusPerNode} CPUs each`);
  }
  if (partition.maxMemoryPerNodeMb !== null) {
    const cap = slurmMemory(partition.maxMemoryPerNodeMb);
    const byNode = partition.memoryCapSource === 'node';
    if (resources.memory !== null && memorySize('memory', resources.memory).megabytes > partition.maxMemoryPerNodeMb) {
      throw new ValidationError('memory', byNode ? `the largest node of ${named} has ${cap}` : `${named} allows at most ${cap} per node (MaxMemPerNode)`);
    }
    const fallback = resources.memory === null ? defaultMemory(partition, resources.cpusPerTask) : null;
    if (fallback && fallback.megabytes > partition.maxMemoryPerNodeMb) {
      throw new ValidationError('memory', `left empty, the job gets the default ${fallback.words}, more than ${byNode ? `the ${cap} of the largest node of ${named}` : `the ${cap} ${named} allows per node`}: give a memory`);
    }
  }
  if (resources.gpusPerNode > 0) {
    // Under the constraint style, gpuType is a node feature, not a GPU type SLURM counts: only the total is checked.
    const typed = gpuRequestStyle !== 'constraint' && resources.gpuType !== null;
    const available = typed ? (partition.gpusPerNodeByType.find((entry) => entry.type === resources.gpuType)?.count ?? 0) : partition.maxGpusPerNode;
    if (available === 0) {
      const types = partition.gpusPerNodeByType.map((entry) => entry.type).join(', ');
      throw typed ? new ValidationError('gpuType', `no node of ${named} has ${resources.gpuType} GPUs${types ? `: it has ${types}` : ''}`) : new ValidationError('gpusPerNode', `${named} has no GPUs`);
    }
    if (resources.gpusPerNode > available) throw new ValidationError('gpusPerNode', `the nodes of ${named} have at most ${available}${typed ? ` ${resources.gpuType}` : ''} GPU${available === 1 ? '' : 's'} each`);
  }
  const allowed = (value: string | null, allow: string[] | null, deny: string[]) => value === null || ((allow === null || allow.includes(value)) && !deny.includes(value));
  if (!allowed(resources.account, partition.allowAccounts, partition.denyAccounts)) {
    throw new ValidationError('account', partition.allowAccounts ? `${named} allows the accounts ${partition.allowAccounts.join(', ')}` : `${named} denies the account ${resources.account}`);
  }
  if (!allowed(resources.qos, partition.allowQos, partition.denyQos)) {
    throw new ValidationError('qos', partition.allowQos ? `${named} allows the QOS ${partition.allowQos.join(', ')}` : `${named} denies the QOS ${resources.qos}`);
  }
}
