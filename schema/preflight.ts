// SLURM's own verdict on a previewed script, shown by the form before the user taps Launch.
import type { Preflight as PreflightValue } from '../server/jobs/preflight.js';
import { builder } from './builder.js';

const PreflightOutcome = builder.enumType('PreflightOutcome', { values: ['ACCEPTED', 'REFUSED', 'NOT_ASKED'] as const });

export const Preflight = builder.objectRef<PreflightValue>('Preflight').implement({
  description: 'SLURM\'s verdict on the previewed script (`sbatch --test-only` with the same directives; nothing queued).',
  fields: (t) => ({
    outcome: t.field({ type: PreflightOutcome, resolve: (preflight) => preflight.outcome }),
    estimatedStartAt: t.expose('estimatedStartAt', { type: 'DateTime', nullable: true, description: "SLURM's estimate when it accepts; null when it gives none." }),
    nodes: t.exposeString('nodes', { nullable: true }),
    partition: t.exposeString('partition', { nullable: true }),
    message: t.exposeString('message', { description: "SLURM's words, or why it was not asked (unreachable, or too many previews a minute)." }),
    field: t.exposeString('field', { nullable: true, description: 'The JobInput field a refusal concerns, when SLURM names it.' }),
  }),
});

/** Whom a preview's question to SLURM counts against: its token, or the tokenless local session. */
export const requesterOf = (session: { tokenId: number | null }) => (session.tokenId === null ? 'local' : `token:${session.tokenId}`);
