import type { GpuAvailability as GpuAvailabilityValue } from '../server/clusters/gpu.js';
import { loginKey } from '../server/clusters/service.js';
import { NotFoundError } from '../server/errors.js';
import type { GpuCounts, GpuPartitionAvailability as PartitionRow, GpuTypeAvailability as TypeRow, NodeWithFreeGpus as FreeNodeRow, UnavailableGpuNode as UnavailableRow } from '../server/clusters/gpu.js';
import { builder, SHARED_DELIVERY } from './builder.js';
import { clusterErrors } from './errors.js';

// Both breakdowns carry the same figures; one interface keeps their descriptions in one place.
const GpuCountsInterface = builder.interfaceRef<GpuCounts>('GpuCounts').implement({
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'GPUs on nodes that take jobs (drained, down and not-responding nodes are left out).' }),
    free: t.exposeInt('free', { description: 'Idle GPUs a new job could get now.' }),
    allocated: t.exposeInt('allocated'),
    stranded: t.exposeInt('stranded', { description: 'Idle GPUs on nodes whose CPUs or memory are all taken: total = free + allocated + stranded.' }),
    pendingDemand: t.exposeInt('pendingDemand', { description: 'GPUs asked for by pending jobs (per node × nodes × array tasks, plus per-job requests).' }),
  }),
});

const GpuTypeAvailability = builder.objectRef<TypeRow>('GpuTypeAvailability').implement({
  interfaces: [GpuCountsInterface],
  fields: (t) => ({
    type: t.exposeString('type', { description: 'A GPU type (a100); "gpu" for GPUs SLURM knows without a type; "any" for demand that names no type.' }),
  }),
});

const GpuPartitionAvailability = builder.objectRef<PartitionRow>('GpuPartitionAvailability').implement({
  description: 'A node in several partitions counts in each; so does a pending job submitted to several.',
  interfaces: [GpuCountsInterface],
  fields: (t) => ({
    partition: t.exposeString('partition'),
    type: t.exposeString('type'),
  }),
});

const NodeWithFreeGpus = builder.objectRef<FreeNodeRow>('NodeWithFreeGpus').implement({
  fields: (t) => ({
    node: t.exposeString('node'),
    type: t.exposeString('type'),
    free: t.exposeInt('free'),
    partitions: t.exposeStringList('partitions'),
  }),
});

const UnavailableGpuNode = builder.objectRef<UnavailableRow>('UnavailableGpuNode').implement({
  description: 'A GPU node that takes no new jobs: drained or draining, down, failing, or not responding.',
  fields: (t) => ({
    node: t.exposeString('node'),
    state: t.exposeString('state', { description: 'As scontrol prints it, e.g. IDLE+DRAIN, MIXED+DRAIN, DOWN*.' }),
    reason: t.exposeString('reason', { nullable: true, description: 'The admin’s reason, with who set it and when.' }),
    partitions: t.exposeStringList('partitions'),
    gpus: t.exposeInt('gpus', { description: 'GPUs it would offer if it took jobs.' }),
  }),
});

export const GpuAvailability = builder.objectRef<GpuAvailabilityValue>('GpuAvailability').implement({
  description: "Where GPUs are free on a cluster, from one scontrol + squeue; shared by every reader for the cluster's gpuCacheSeconds.",
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    fetchedAt: t.expose('fetchedAt', { type: 'DateTime', description: 'When the cluster gave these figures.' }),
    stale: t.exposeBoolean('stale', { description: 'The last attempt to read the cluster failed (see lastError); these figures are from fetchedAt.' }),
    lastError: t.exposeString('lastError', { nullable: true }),
    refreshLimitedUntil: t.expose('refreshLimitedUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'Set when refresh was asked too soon after the previous one: cached figures were returned, and a refresh is possible again from then.',
    }),
    byType: t.field({ type: [GpuTypeAvailability], resolve: (availability) => availability.byType }),
    byPartition: t.field({ type: [GpuPartitionAvailability], resolve: (availability) => availability.byPartition }),
    nodesWithFreeGpus: t.field({ type: [NodeWithFreeGpus], description: 'Most free GPUs first.', resolve: (availability) => availability.nodesWithFreeGpus }),
    unavailableNodes: t.field({ type: [UnavailableGpuNode], resolve: (availability) => availability.unavailableNodes }),
  }),
});

builder.queryFields((t) => ({
  gpuAvailability: t.field({
    type: GpuAvailability,
    description: 'GPUs by type and partition, nodes with free GPUs and nodes out of service. refresh asks the cluster now (at most once per 10 s).',
    errors: { types: [NotFoundError, ...clusterErrors] },
    args: {
      cluster: t.arg.string({ required: true }),
      refresh: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args, ctx) => ctx.services.gpu.availability(args.cluster, ctx.session.userId, { refresh: args.refresh ?? false }),
  }),
}));

builder.subscriptionFields((t) => ({
  gpuAvailability: t.field({
    extensions: { [SHARED_DELIVERY]: true },
    type: GpuAvailability,
    description: "A cluster's GPU availability each time it is read afresh from the cluster over your login (never read for a subscriber).",
    args: { cluster: t.arg.string({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.events.subscribe('gpu:availability', loginKey(args.cluster, ctx.session.userId)),
    resolve: (availability) => availability,
  }),
}));
