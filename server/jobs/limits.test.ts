// A launch checked against its partition, with the lab's real cluster check output (its gpu partition given
// MaxTime=2-00:00:00 DefaultTime=01:00:00 as the lab sets it): every refusal names its field and the limit.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { partitionFacts } from '../clusters/limits.js';
import { ValidationError } from '../errors.js';
import { parseGpuInventory } from '../slurm/gpu.js';
import type { Resources } from '../slurm/script.js';
import { checkAgainstPartition, defaultMemory, partitionOf, slurmDuration, slurmMemory } from './limits.js';

const LAB = readFileSync(new URL('../../test/fixtures/slurm/cluster-check-lab.txt', import.meta.url), 'utf8');
const facts = (output = LAB) => partitionFacts(parseGpuInventory(output));
const resources = (changes: Partial<Resources> = {}): Resources => ({ jobName: 'x', partition: null, account: null, qos: null, nodes: 1, gpusPerNode: 0, gpuType: null, cpusPerTask: 1, memory: null, timeLimit: null, ...changes });

function refusal(changes: Partial<Resources>, output = LAB, style: 'gres' | 'constraint' = 'gres'): { field: string; message: string } | null {
  try {
    checkAgainstPartition(resources(changes), facts(output), 'lab', style);
    return null;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { field: error.field, message: error.message.slice(error.field.length + 2) };
  }
}

describe('partition limits', () => {
  it("reads each partition's limits, its nodes' largest CPUs, memory and GPUs, and the site's default memory", () => {
    const [gpu, cpu] = facts();
    expect(gpu).toMatchObject({
      name: 'gpu', isDefault: true, maxTimeMinutes: 2880, defaultTimeMinutes: 60, nodeCount: 2, maxNodes: null, maxCpusPerNode: 4, maxMemoryPerNodeMb: 4000, memoryCapSource: 'node',
      defaultMemoryPerCpuMb: 100, defaultMemoryPerNodeMb: null, gpusPerNodeByType: [{ type: 'a100', count: 4 }, { type: 'h100', count: 2 }], maxGpusPerNode: 4, allowAccounts: null, allowQos: null,
    });
    expect(cpu).toMatchObject({ name: 'cpu', isDefault: false, maxTimeMinutes: null, defaultTimeMinutes: null, nodeCount: 1, gpusPerNodeByType: [], maxGpusPerNode: 0 });
    expect(partitionOf(facts(), null)?.name).toBe('gpu');
    expect(defaultMemory(gpu!, 4)).toEqual({ megabytes: 400, words: '100M per CPU × 4 CPUs = 400M' });
  });

  it('lets through what the partition can run, and anything when the partitions could not be read', () => {
    expect(refusal({ gpusPerNode: 4, gpuType: 'a100', cpusPerTask: 4, memory: '4000M', timeLimit: '2-00:00:00', nodes: 2 })).toBeNull();
    expect(refusal({ partition: 'cpu', timeLimit: '99-00:00:00', memory: '3G' })).toBeNull();
    expect(() => checkAgainstPartition(resources({ gpusPerNode: 64, partition: 'nosuch' }), [], 'lab', 'gres')).not.toThrow();
  });

  it('refuses under the field that asks too much, naming the limit', () => {
    expect(refusal({ gpusPerNode: 9, gpuType: 'a100' })).toEqual({ field: 'gpusPerNode', message: 'the nodes of partition gpu have at most 4 a100 GPUs each' });
    expect(refusal({ gpusPerNode: 3, gpuType: 'h100' })).toEqual({ field: 'gpusPerNode', message: 'the nodes of partition gpu have at most 2 h100 GPUs each' });
    expect(refusal({ gpusPerNode: 5 })).toEqual({ field: 'gpusPerNode', message: 'the nodes of partition gpu have at most 4 GPUs each' });
    expect(refusal({ gpusPerNode: 1, gpuType: 'h200' })).toEqual({ field: 'gpuType', message: 'no node of partition gpu has h200 GPUs: it has a100, h100' });
    expect(refusal({ gpusPerNode: 1, partition: 'cpu' })).toEqual({ field: 'gpusPerNode', message: 'partition cpu has no GPUs' });
    expect(refusal({ timeLimit: '99-00:00:00' })).toEqual({ field: 'timeLimit', message: 'partition gpu allows at most 2-00:00:00' });
    expect(refusal({ memory: '8G' })).toEqual({ field: 'memory', message: 'the largest node of partition gpu has 4000M' });
    expect(refusal({ cpusPerTask: 9 })).toEqual({ field: 'cpusPerTask', message: 'the nodes of partition gpu have at most 4 CPUs each' });
    expect(refusal({ nodes: 3 })).toEqual({ field: 'nodes', message: 'partition gpu has 2 nodes' });
    expect(refusal({ partition: 'nosuch' })).toEqual({ field: 'partition', message: 'lab has no partition nosuch: it has gpu, cpu' });
  });

  it('refuses an empty memory whose default would not fit, and checks only the count of GPUs requested as a feature', () => {
    const generous = LAB.replace('DefMemPerCPU            = 100', 'DefMemPerCPU            = 2000');
    expect(refusal({ cpusPerTask: 4 }, generous)).toEqual({
      field: 'memory',
      message: 'left empty, the job gets the default 2000M per CPU × 4 CPUs = 8000M, more than the 4000M of the largest node of partition gpu: give a memory',
    });
    expect(refusal({ cpusPerTask: 4, memory: '1G' }, generous)).toBeNull();
    // Under gpuRequestStyle constraint, gpuType names a node feature: any feature name passes, the count is checked.
    expect(refusal({ gpusPerNode: 2, gpuType: 'ampere' }, LAB, 'constraint')).toBeNull();
    expect(refusal({ gpusPerNode: 5, gpuType: 'ampere' }, LAB, 'constraint')).toEqual({ field: 'gpusPerNode', message: 'the nodes of partition gpu have at most 4 GPUs each' });
  });

  it("takes a partition's own limits over the site's: MaxNodes, MaxMemPerNode, MaxCPUsPerNode, allowed accounts and QOS", () => {
    const strict = LAB.replace(
      /^PartitionName=gpu AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL (.*) MaxNodes=UNLIMITED (.*) MaxCPUsPerNode=UNLIMITED (.*) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED/m,
      'PartitionName=gpu AllowGroups=ALL AllowAccounts=ml,vision AllowQos=normal,high $1 MaxNodes=1 $2 MaxCPUsPerNode=2 $3 DefMemPerNode=UNLIMITED MaxMemPerNode=3000',
    );
    expect(strict).not.toBe(LAB);
    expect(refusal({ nodes: 2 }, strict)).toEqual({ field: 'nodes', message: 'partition gpu allows at most 1 nodes per job' });
    expect(refusal({ cpusPerTask: 3 }, strict)).toEqual({ field: 'cpusPerTask', message: 'the nodes of partition gpu have at most 2 CPUs each' });
    expect(refusal({ memory: '3500M' }, strict)).toEqual({ field: 'memory', message: 'partition gpu allows at most 3000M per node (MaxMemPerNode)' });
    expect(refusal({ account: 'physics' }, strict)).toEqual({ field: 'account', message: 'partition gpu allows the accounts ml, vision' });
    expect(refusal({ qos: 'debug' }, strict)).toEqual({ field: 'qos', message: 'partition gpu allows the QOS normal, high' });
    expect(refusal({ account: 'vision', qos: 'high' }, strict)).toBeNull();
  });

  it('words minutes and megabytes as SLURM writes them', () => {
    expect([slurmDuration(2880), slurmDuration(90), slurmDuration(30.5)]).toEqual(['2-00:00:00', '01:30:00', '00:30:30']);
    expect([slurmMemory(4000), slurmMemory(4096), slurmMemory(1024 * 1024)]).toEqual(['4000M', '4G', '1T']);
  });
});
