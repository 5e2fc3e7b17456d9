// Where the user stands on a cluster: fair share and GPU limits against their own GPUs, from the cached cluster check
// (no remote command of its own when fresh). Parts a site does not let us read are empty, never an error.
import type { FairShare, GpuLimit, UserStanding } from '../server/clusters/gpu.js';
import { builder } from './builder.js';
import { Cluster } from './cluster.js';
import { GpuAvailability } from './gpu.js';

const FairShareRef = builder.objectRef<FairShare>('FairShare').implement({
  description: "The user's fair-share factor in one account (sshare's FairShare).",
  fields: (t) => ({
    account: t.exposeString('account'),
    factor: t.exposeFloat('factor', { description: '0 to 1; higher starts sooner among equal jobs.' }),
  }),
});

const GpuLimitSourceRef = builder.enumType('GpuLimitSource', { values: ['association', 'qos'] as const });
const GpuLimitScopeRef = builder.enumType('GpuLimitScope', {
  values: { perUser: { description: 'All the user\'s jobs together.' }, perJob: { description: 'Each job on its own.' } } as const,
});

const GpuLimitRef = builder.objectRef<GpuLimit>('GpuLimit').implement({
  description: "A GPU limit of the user's association or QOS (sacctmgr), with the user's GPUs that count against it.",
  fields: (t) => ({
    source: t.field({ type: GpuLimitSourceRef, resolve: (limit) => limit.source }),
    name: t.exposeString('name', { description: 'The QOS, or the account (and partition) of the association.' }),
    scope: t.field({ type: GpuLimitScopeRef, resolve: (limit) => limit.scope }),
    gpus: t.exposeInt('gpus'),
    running: t.exposeInt('running', { description: "The user's running GPUs under it (0 for a per-job limit)." }),
    pending: t.exposeInt('pending', { description: "GPUs the user's pending jobs ask under it (0 for a per-job limit)." }),
  }),
});

const UserStandingRef = builder.objectRef<UserStanding>('UserStanding').implement({
  description: 'Where the user of this cluster stands: fair share, GPUs running and pending, and GPU limits.',
  fields: (t) => ({
    fairShare: t.field({ type: [FairShareRef], description: 'Empty when sshare is not allowed or the scheduler has no fair share.', resolve: (standing) => standing.fairShare }),
    gpusRunning: t.int({ description: "GPUs the user's running jobs hold (all of them, also those not launched here).", resolve: (standing) => standing.gpus.running }),
    gpusPending: t.int({ description: "GPUs the user's pending jobs ask for.", resolve: (standing) => standing.gpus.pending }),
    gpuLimits: t.field({ type: [GpuLimitRef], description: 'Empty when sacctmgr is not allowed, none is set, or the site does not enforce limits.', resolve: (standing) => standing.gpuLimits }),
  }),
});

builder.objectFields(Cluster, (t) => ({
  standing: t.field({
    type: UserStandingRef,
    nullable: true,
    description: "The user's fair share and GPU limits, from the cached cluster check; null when the cluster cannot be read.",
    resolve: (cluster, _args, ctx) => ctx.services.gpu.standing(cluster.name, ctx.session.userId).catch(() => null),
  }),
}));

// The same standing on each GPU answer and push, read by the same command: what a card following the GPUs live shows,
// with no lookup of its own.
builder.objectFields(GpuAvailability, (t) => ({
  standing: t.field({ type: UserStandingRef, description: "The user's fair share and GPU limits, read with these figures.", resolve: (availability) => availability.standing }),
}));
