// Typed errors exposed to clients; resolvers list the ones they can return, and anything else is masked by Yoga.
import {
  ClusterUnreachableError,
  CommandTimeoutError,
  HostKeyError,
  LaunchAlreadySubmittedError,
  LaunchNotRecordedError,
  LogTailLimitError,
  NotFoundError,
  RateLimitedError,
  SlurmError,
  SweepAlreadySubmittedError,
  ValidationError,
} from '../server/errors.js';
import { HydraConfigError } from '../server/projects/hydra/config.js';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'Every typed failure: ask `... on Error { message }`.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(NotFoundError, { name: 'NotFoundError', interfaces: [ErrorInterface] });

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'A value was refused; `field` names it (e.g. "memory", "groups.model/encoder", "parameters.optimizer.lr").',
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString('field') }),
});

builder.objectType(ClusterUnreachableError, {
  name: 'ClusterUnreachableError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ cluster: t.exposeString('cluster') }),
});

builder.objectType(HostKeyError, {
  name: 'HostKeyError',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    fingerprint: t.exposeString('fingerprint', { description: 'SHA256 fingerprint of the key the host presented, to confirm with its admins.' }),
    changed: t.exposeBoolean('changed', { description: 'A different key was recorded for this host: refused loudly.' }),
  }),
});

builder.objectType(CommandTimeoutError, { name: 'CommandTimeoutError', interfaces: [ErrorInterface] });

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description: 'Asked again too soon for something that runs a command on the cluster; nothing was run.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'When the same call would be served again.' }) }),
});

builder.objectType(SlurmError, {
  name: 'SlurmError',
  description: 'A SLURM command on the cluster failed; `stderr` is what it said.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    command: t.exposeString('command'),
    exitCode: t.exposeInt('exitCode', { nullable: true }),
    stderr: t.exposeString('stderr'),
  }),
});

builder.objectType(HydraConfigError, {
  name: 'HydraConfigError',
  description: "The project's Hydra configuration could not be read; `file` and `line` say where.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    file: t.exposeString('file'),
    line: t.exposeInt('line', { nullable: true }),
  }),
});

builder.objectType(LaunchAlreadySubmittedError, {
  name: 'LaunchAlreadySubmittedError',
  description: 'This tag was submitted already (a second tap, a retried request): `jobId` is that launch; nothing was submitted again.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field', { description: 'Always "tag".' }),
    tag: t.exposeString('tag'),
    jobId: t.exposeInt('jobId'),
  }),
});

builder.objectType(LaunchNotRecordedError, {
  name: 'LaunchNotRecordedError',
  description: 'SLURM accepted the launch but saving its id failed (a full disk): it is adopted by its tag once the database takes writes, never submitted twice.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    slurmJobId: t.exposeString('slurmJobId'),
    tag: t.exposeString('tag'),
    jobId: t.exposeInt('jobId'),
  }),
});

builder.objectType(LogTailLimitError, {
  name: 'LogTailLimitError',
  description: "The cluster already streams as many jobs' live logs as it may (each holds an SSH channel that commands need): close another job's log, or read this one with job.log.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    following: t.exposeInt('following', { description: "How many jobs' logs the cluster streams now, its most at once." }),
  }),
});

/** What a resolver that reaches a cluster can fail with, besides its own validation. */
export const clusterErrors = [ClusterUnreachableError, HostKeyError, CommandTimeoutError, SlurmError];

builder.objectType(SweepAlreadySubmittedError, {
  name: 'SweepAlreadySubmittedError',
  description: 'This tag was submitted already as a sweep (a second tap, a retried request): `sweepId` is that sweep; nothing was submitted again.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field', { description: 'Always "tag".' }),
    tag: t.exposeString('tag'),
    sweepId: t.exposeInt('sweepId'),
  }),
});
