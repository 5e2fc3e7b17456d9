import type { PushSubscription } from '../server/db/entities.js';
import { NotFoundError, ValidationError } from '../server/errors.js';
import { builder } from './builder.js';

// The subscription's keys stay on the server: a device is shown only what it set.
const PushDevice = builder.objectRef<PushSubscription>('PushDevice').implement({
  description: "A browser subscribed to this server's notifications.",
  fields: (t) => ({
    endpoint: t.exposeString('endpoint'),
    pendingAfterMinutes: t.exposeInt('pendingAfterMinutes', { nullable: true, description: 'Notify once when a job has been PENDING this long; null = never.' }),
    mutedProjectIds: t.exposeIntList('mutedProjectIds', { description: 'Projects whose jobs this device is not told about.' }),
    failedTaskPushes: t.exposeBoolean('failedTaskPushes', { description: "Also notify of each failed task of a sweep (at most 10 per sweep and relaunch); a sweep's end is one notification either way." }),
    metricNanPushes: t.exposeBoolean('metricNanPushes', { description: "Notify once when a running job's metric becomes NaN or infinite (a sweep: once per metric for all its tasks)." }),
    gpuIdlePushes: t.exposeBoolean('gpuIdlePushes', { description: "Notify once when all of a running job's GPUs stay under 10 % for 10 minutes (a sweep: once for all its tasks)." }),
    startedAfterWaitMinutes: t.exposeInt('startedAfterWaitMinutes', { nullable: true, description: 'Notify once when a job that waited in the queue at least this long starts (a sweep: its first task); null = never.' }),
    requeuePushes: t.exposeBoolean('requeuePushes', { description: 'Notify when a job is put back in the queue under its SLURM id (its own script at its time limit, preemption, an admin): once per restart.' }),
    timeLimitPushes: t.exposeBoolean('timeLimitPushes', { description: 'Notify once when a running job without resume reaches its time limit in 15 minutes.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PushSubscriptionInput = builder.inputType('PushSubscriptionInput', {
  description: "The browser's PushSubscription.toJSON(): endpoint and keys (base64url), with this device's settings.",
  fields: (t) => ({
    endpoint: t.string({ required: true }),
    p256dh: t.string({ required: true }),
    auth: t.string({ required: true }),
    pendingAfterMinutes: t.int({ description: 'Omitted keeps the stored value (none for a new device); null turns it off.' }),
    mutedProjectIds: t.intList({ description: 'Omitted keeps the stored list (empty for a new device).' }),
    failedTaskPushes: t.boolean({ description: 'Omitted keeps the stored value (off for a new device); null turns it off.' }),
    metricNanPushes: t.boolean({ description: 'Omitted keeps the stored value (on for a new device); null turns it off.' }),
    gpuIdlePushes: t.boolean({ description: 'Omitted keeps the stored value (on for a new device); null turns it off.' }),
    startedAfterWaitMinutes: t.int({ description: 'Omitted keeps the stored value (off for a new device); null turns it off.' }),
    requeuePushes: t.boolean({ description: 'Omitted keeps the stored value (on for a new device); null turns it off.' }),
    timeLimitPushes: t.boolean({ description: 'Omitted keeps the stored value (off for a new device); null turns it off.' }),
  }),
});

builder.queryFields((t) => ({
  pushPublicKey: t.string({
    description: "The server's VAPID public key (base64url): pushManager.subscribe's applicationServerKey.",
    resolve: (_root, _args, ctx) => ctx.services.notify.publicKey(),
  }),
  pushDevice: t.field({
    type: PushDevice,
    nullable: true,
    description: "This token's device with that endpoint, or null.",
    args: { endpoint: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notify.device(ctx.em, args.endpoint, ctx.session.tokenId),
  }),
}));

builder.mutationFields((t) => ({
  registerPushSubscription: t.field({
    type: PushDevice,
    description: 'Adds this browser, or updates it when its endpoint is known already.',
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: PushSubscriptionInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notify.register(ctx.em, args.input, ctx.session.tokenId, ctx.session.userId),
  }),
  updatePushSettings: t.field({
    type: PushDevice,
    description: 'Omitted arguments keep their value; pass pendingAfterMinutes (or startedAfterWaitMinutes): null to turn it off.',
    errors: { types: [NotFoundError, ValidationError] },
    args: { endpoint: t.arg.string({ required: true }), pendingAfterMinutes: t.arg.int(), mutedProjectIds: t.arg.intList(), failedTaskPushes: t.arg.boolean(), metricNanPushes: t.arg.boolean(), gpuIdlePushes: t.arg.boolean(), startedAfterWaitMinutes: t.arg.int(), requeuePushes: t.arg.boolean(), timeLimitPushes: t.arg.boolean() },
    resolve: (_root, args, ctx) =>
      ctx.services.notify.update(
        ctx.em,
        args.endpoint,
        {
          pendingAfterMinutes: args.pendingAfterMinutes,
          mutedProjectIds: args.mutedProjectIds,
          failedTaskPushes: args.failedTaskPushes,
          metricNanPushes: args.metricNanPushes,
          gpuIdlePushes: args.gpuIdlePushes,
          startedAfterWaitMinutes: args.startedAfterWaitMinutes,
          requeuePushes: args.requeuePushes,
          timeLimitPushes: args.timeLimitPushes,
        },
        ctx.session.tokenId,
      ),
  }),
  unregisterPushSubscription: t.field({
    type: 'Boolean',
    description: 'True when the subscription existed.',
    errors: { types: [] },
    args: { endpoint: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.notify.unregister(ctx.em, args.endpoint, ctx.session.tokenId),
  }),
}));
