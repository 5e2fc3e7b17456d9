import { reasonExplained, waitingFor, type PendingReason as PendingReasonValue } from '../server/jobs/waiting.js';
import { builder } from './builder.js';
import { Job } from './job.js';

const PendingReason = builder.objectRef<PendingReasonValue>('PendingReason').implement({
  description: 'Why SLURM keeps a job waiting, in words, with what its owner can do about it.',
  fields: (t) => ({
    reason: t.exposeString('reason', { description: "SLURM's words, as it wrote them (squeue's reason), e.g. \"ReqNodeNotAvail, UnavailableNodes:gpu-a100\"." }),
    summary: t.exposeString('summary', { description: 'What the job waits for, e.g. "waiting for 2 A100s"; SLURM\'s words when the reason is not one the server knows.' }),
    action: t.exposeString('action', { nullable: true, description: 'What the owner can do; null when nothing is known to help.' }),
    blocked: t.exposeBoolean('blocked', { description: 'It will not start until someone changes something: the owner (a hold, a request over a limit), or the cluster\'s admins.' }),
    known: t.exposeBoolean('known', { description: 'False: the server does not know this reason and passes SLURM\'s words on unexplained.' }),
  }),
});

// What a pending job waits for is told against the resources it asked for, its settings, which a list leaves in the
// database (jobs/queries.ts): read for a pending job only.
builder.objectFields(Job, (t) => ({
  estimatedStartAt: t.expose('estimatedStartAt', {
    type: 'DateTime',
    nullable: true,
    description: "While PENDING: when SLURM's scheduler expects the job to start (its backfill estimate, or the --begin time), as `squeue --start` prints it, read from the poll's own squeue. null when SLURM gives none: no estimate, never a guess.",
  }),
  reasonExplained: t.field({
    type: PendingReason,
    nullable: true,
    description: "While PENDING: SLURM's reason (`reason`) explained. null when the job does not wait or SLURM gives no reason.",
    resolve: async (job, _args, ctx) => reasonExplained(job.state === 'PENDING' ? await ctx.services.jobs.withSettings(ctx.em, job) : job),
  }),
  waitingFor: t.string({
    nullable: true,
    description: 'reasonExplained in one line, for a list: "waiting for 2 A100s (Resources)", or SLURM\'s own words when the server does not know them; null as reasonExplained.',
    resolve: async (job, _args, ctx) => waitingFor(job.state === 'PENDING' ? await ctx.services.jobs.withSettings(ctx.em, job) : job),
  }),
}));
