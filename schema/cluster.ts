import type { ClusterStatus } from '../server/clusters/service.js';
import type { ConnectionHelp as ConnectionHelpConfig } from '../server/config.js';
import type { PartitionInfo } from '../server/db/entities.js';
import type { SlurmJobStatus } from '../server/jobs/transitions.js';
import { JobState } from './job.js';
import { NotFoundError, RateLimitedError } from '../server/errors.js';
import { filter, pipe } from 'graphql-yoga';
import { builder, SHARED_DELIVERY } from './builder.js';

const PartitionState = builder.objectRef<PartitionInfo['states'][number]>('PartitionState').implement({
  fields: (t) => ({
    state: t.exposeString('state', { description: "SLURM's node state as sinfo prints it (idle, mix, alloc, drain…)." }),
    nodes: t.exposeInt('nodes'),
  }),
});

const Partition = builder.objectRef<PartitionInfo>('Partition').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    isDefault: t.exposeBoolean('isDefault'),
    available: t.exposeBoolean('available', { description: 'The partition is up.' }),
    nodes: t.exposeInt('nodes'),
    states: t.field({ type: [PartitionState], resolve: (partition) => partition.states }),
  }),
});

const Transport = builder.enumType('Transport', { values: ['ssh2', 'openssh', 'local'] as const });

const ExternalJob = builder.objectRef<SlurmJobStatus>('ExternalJob').implement({
  description: 'A job of yours in the queue that Mission Control did not submit: shown, never touched.',
  fields: (t) => ({
    slurmJobId: t.exposeString('slurmJobId'),
    state: t.field({ type: JobState, resolve: (job) => job.state }),
    slurmState: t.exposeString('rawState'),
    reason: t.exposeString('reason', { nullable: true }),
    nodeList: t.exposeString('nodeList', { nullable: true }),
    elapsedSeconds: t.exposeInt('elapsedSeconds', { nullable: true }),
    workDir: t.exposeString('workDir', { nullable: true }),
  }),
});

const ConnectionHelp = builder.objectRef<ConnectionHelpConfig>('ConnectionHelp').implement({
  description: "What to do when the cluster cannot be reached or needs a login, as the config's connectionHelp says it (checked to hold no secret).",
  fields: (t) => ({
    vpn: t.exposeString('vpn', { nullable: true, description: "The command that puts the server's machine on the cluster's network; one line." }),
    steps: t.exposeString('steps', { nullable: true, description: 'Anything else to do, as plain text (up to 15 lines).' }),
    link: t.exposeString('link', { nullable: true, description: "The site's own instructions: an http(s) URL." }),
  }),
});

export const Cluster = builder.objectRef<ClusterStatus>('Cluster').implement({
  description: 'A configured SLURM cluster and the result of its latest connection check.',
  fields: (t) => ({
    name: t.exposeString('name'),
    transport: t.field({ type: Transport, resolve: (cluster) => cluster.transport }),
    host: t.exposeString('host', { nullable: true }),
    reachable: t.exposeBoolean('reachable', { nullable: true, description: 'null while the first check is still running.' }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true, description: 'Wall time of the last check command, connection included when one was opened.' }),
    slurmVersion: t.exposeString('slurmVersion', { nullable: true }),
    partitions: t.field({ type: [Partition], resolve: (cluster) => cluster.partitions }),
    error: t.exposeString('error', { nullable: true }),
    checkedAt: t.expose('checkedAt', { type: 'DateTime', nullable: true }),
    stale: t.exposeBoolean('stale', { description: "The last job poll failed: its jobs show their last known state." }),
    needsReauth: t.exposeString('needsReauth', { nullable: true, description: 'The login expired (Duo/MFA clusters): run this command in a terminal.' }),
    lastPollAt: t.expose('lastPollAt', { type: 'DateTime', nullable: true }),
    lastPollError: t.exposeString('lastPollError', { nullable: true }),
    connectionHelp: t.field({
      type: ConnectionHelp,
      nullable: true,
      description: 'Connection help from the config, whatever the state: the app shows it while the cluster is unreachable or needs a login.',
      resolve: (cluster) => cluster.connectionHelp,
    }),
    externalJobs: t.field({
      type: [ExternalJob],
      description: "From your login's last poll (the same squeue that follows your jobs); empty while no job of yours is active there.",
      resolve: (cluster, _args, ctx) => ctx.services.poller.externalJobs(cluster.name, ctx.session.userId),
    }),
  }),
});

builder.queryFields((t) => ({
  clusters: t.field({
    type: [Cluster],
    description: 'Every configured cluster; a slow cluster shows reachable: null instead of holding up the others.',
    resolve: (_root, _args, ctx) => ctx.services.clusters.list(ctx.em, ctx.session.userId),
  }),
  cluster: t.field({
    type: Cluster,
    errors: { types: [NotFoundError] },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.clusters.status(ctx.em, args.name, ctx.session.userId),
  }),
}));

builder.mutationFields((t) => ({
  testClusterConnection: t.field({
    type: Cluster,
    description: 'Connects to the cluster over your login and runs sinfo now, bypassing the cached check. Rate-limited per token (RateLimitedError).',
    errors: { types: [NotFoundError, RateLimitedError] },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      ctx.services.limits.take(ctx.session, 'testClusterConnection', args.name);
      return ctx.services.clusters.testConnection(args.name, ctx.session.userId);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  clusterStatus: t.field({
    type: Cluster,
    extensions: { [SHARED_DELIVERY]: true },
    description: 'A cluster whose reachability, staleness or login state changed, as your login sees it.',
    args: { name: t.arg.string() },
    subscribe: (_root, args, ctx) =>
      pipe(
        ctx.services.events.subscribe('cluster:status'),
        filter((cluster) => cluster.userId === ctx.session.userId && (args.name == null || cluster.name === args.name)),
      ),
    resolve: (cluster) => cluster,
  }),
}));
