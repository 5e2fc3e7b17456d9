import type { NotificationDestination as Destination } from '../server/push/notifier.js';
import { NotFoundError, RateLimitedError } from '../server/errors.js';
import { builder } from './builder.js';

// Read from the config: what a person needs to recognise a destination and whether it works; never its secret, a
// webhook's path (its token) or an SMTP login.
const NotificationDestination = builder.objectRef<Destination>('NotificationDestination').implement({
  description: 'A channel of the config that hears notices beyond Web Push: an ntfy topic, a chat webhook, an email address.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'ntfy, webhook or email.' }),
    target: t.exposeString('target', { description: "Where it goes, without secrets: ntfy's host and topic; a webhook's host; email's recipients and SMTP host." }),
    format: t.exposeString('format', { nullable: true, description: "A webhook's body: slack, discord, mattermost or json." }),
    events: t.exposeStringList('events', { description: 'The notices it hears (jobEnd, sweepEnd, failedTask, requeue, timeLimit, metricNan, gpuIdle, reauth).' }),
    mutedProjects: t.exposeStringList('mutedProjects', { description: 'Projects (by name or id) it never hears of.' }),
    pendingAfterMinutes: t.exposeInt('pendingAfterMinutes', { nullable: true }),
    startedAfterWaitMinutes: t.exposeInt('startedAfterWaitMinutes', { nullable: true }),
    lastSuccessAt: t.expose('lastSuccessAt', { type: 'DateTime', nullable: true, description: 'Since this server started.' }),
    lastFailureAt: t.expose('lastFailureAt', { type: 'DateTime', nullable: true, description: 'Since this server started.' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'The last try\'s error; null once a try succeeded.' }),
  }),
});

const NotificationTest = builder.objectRef<{ ok: boolean; error: string | null; destination: Destination }>('NotificationTest').implement({
  description: 'How a test message went (one try, no retries).',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    error: t.exposeString('error', { nullable: true }),
    destination: t.field({ type: NotificationDestination, resolve: (test) => test.destination }),
  }),
});

builder.queryFields((t) => ({
  notificationDestinations: t.field({
    type: [NotificationDestination],
    description: "The config's notification destinations (notifications.destinations), in its order, with each one's last outcome. The config is the admins': a user who is not one has none.",
    resolve: (_root, _args, ctx) => (ctx.session.admin ? ctx.services.notify.destinations() : []),
  }),
}));

builder.mutationFields((t) => ({
  testNotificationDestination: t.field({
    type: NotificationTest,
    description: 'Sends a test message to the destination now. Rate-limited per token and destination (RateLimitedError).',
    errors: { types: [NotFoundError, RateLimitedError] },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      ctx.services.limits.take(ctx.session, 'testNotificationDestination', args.name);
      if (!ctx.session.admin) throw new NotFoundError(`no notification destination named "${args.name}"`);
      return ctx.services.notify.testDestination(args.name);
    },
  }),
}));
