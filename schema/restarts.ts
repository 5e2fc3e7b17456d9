import type { JobRequeue as JobRequeueValue } from '../server/db/entities.js';
import { builder } from './builder.js';
import { Job } from './job.js';

const RequeueCause = builder.enumType('RequeueCause', {
  description: 'Why a run of a job ended with the job back in the queue.',
  values: {
    TIME_LIMIT: { value: 'time-limit', description: "The job's own script requeued it at its time limit's signal (the resume option)." },
  } as const,
});

const JobRequeue = builder.objectRef<JobRequeueValue>('JobRequeue').implement({
  description: 'A run of a job that ended with the job put back in the queue under the same SLURM id (scontrol requeue).',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: "When it was requeued: its script's own record when it requeued itself, else when the server first saw it back in the queue.", resolve: (requeue) => new Date(requeue.at) }),
    runStartedAt: t.field({ type: 'DateTime', nullable: true, description: 'When the run it ended had started; null when the server never saw it running.', resolve: (requeue) => (requeue.runStartedAt ? new Date(requeue.runStartedAt) : null) }),
    cause: t.field({ type: RequeueCause, nullable: true, description: 'null: requeued by SLURM, by preemption or by an admin, which the server cannot tell apart.', resolve: (requeue) => requeue.cause }),
  }),
});

builder.objectFields(Job, (t) => ({
  restarts: t.exposeInt('restarts', { description: "How many times SLURM put the job back in the queue (its own script at its time limit, preemption, an admin); the job keeps its SLURM id, and startedAt is its current run's start." }),
  requeues: t.field({
    type: [JobRequeue],
    description: 'Each run that ended with a requeue, oldest first; the current run is startedAt.',
    resolve: (job) => job.requeues ?? [],
  }),
}));
