// What a launch may ask of each partition and gets when it leaves a value out (from the cached cluster check): what
// the form shows and checks as the user types.
import type { PartitionFacts } from '../server/clusters/limits.js';
import { builder } from './builder.js';
import { Cluster } from './cluster.js';

const GpusPerNode = builder.objectRef<{ type: string; count: number }>('GpusPerNode').implement({
  fields: (t) => ({ type: t.exposeString('type'), count: t.exposeInt('count', { description: 'The most one node of the partition has.' }) }),
});

const PartitionLimits = builder.objectRef<PartitionFacts>('PartitionLimits').implement({
  description: "A partition's limits (scontrol show partition) and its largest nodes: what a launch on it is checked against.",
  fields: (t) => ({
    name: t.exposeString('name'),
    isDefault: t.exposeBoolean('isDefault', { description: 'Where a launch that names no partition goes.' }),
    maxTimeMinutes: t.exposeFloat('maxTimeMinutes', { nullable: true, description: 'MaxTime; null is unlimited.' }),
    defaultTimeMinutes: t.exposeFloat('defaultTimeMinutes', { nullable: true, description: 'DefaultTime: what a launch without a time limit gets; null: its MaxTime.' }),
    maxNodes: t.int({ description: 'Most nodes one job may have here: its MaxNodes or its node count, whichever is fewer.', resolve: (facts) => Math.min(facts.nodeCount, facts.maxNodes ?? facts.nodeCount) }),
    maxCpusPerNode: t.exposeInt('maxCpusPerNode', { nullable: true }),
    maxMemoryPerNodeMb: t.exposeInt('maxMemoryPerNodeMb', { nullable: true, description: 'Its largest node, or MaxMemPerNode where lower.' }),
    defaultMemoryPerCpuMb: t.exposeInt('defaultMemoryPerCpuMb', { nullable: true, description: "DefMemPerCPU (the partition's, else the site's): what a launch without a memory gets, per CPU." }),
    defaultMemoryPerNodeMb: t.exposeInt('defaultMemoryPerNodeMb', { nullable: true, description: 'DefMemPerNode, where set instead.' }),
    gpusPerNode: t.field({ type: [GpusPerNode], resolve: (facts) => facts.gpusPerNodeByType }),
    allowAccounts: t.exposeStringList('allowAccounts', { nullable: true, description: 'Null: every account.' }),
    allowQos: t.exposeStringList('allowQos', { nullable: true, description: 'Null: every QOS.' }),
  }),
});

builder.objectFields(Cluster, (t) => ({
  partitionLimits: t.field({
    type: [PartitionLimits],
    nullable: true,
    description: 'Each partition\'s limits, from the cached cluster check (no remote command of its own when fresh); null when the cluster cannot be read, empty when the site hides its partitions.',
    resolve: (cluster, _args, ctx) => ctx.services.gpu.partitions(cluster.name, ctx.session.userId).catch(() => null),
  }),
}));
