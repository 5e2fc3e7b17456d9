// How the job screen says what a job waits for, and why SLURM says it never will start (DependencyNeverSatisfied).
import type { JobState } from '../api/jobs';
import { stateLabel } from './format';

export type DependencyKind = 'AFTEROK' | 'AFTERANY' | 'AFTERNOTOK' | 'AFTERCORR';

export interface DependencyFacts {
  kind: DependencyKind;
  jobId?: number | null;
  sweepId?: number | null;
}

/** The dependency's job or sweep, as read (its state is a JobState or a SweepState). */
export interface TargetFacts {
  name: string;
  state: string;
}

export const NEVER_SATISFIED = 'DependencyNeverSatisfied';

const kindWord = (kind: DependencyKind) => kind.toLowerCase();

/** "job 12" / "sweep 3". */
export const targetName = (dependency: DependencyFacts) => (dependency.jobId != null ? `job ${dependency.jobId}` : `sweep ${dependency.sweepId}`);

/** "waits for job 12 (afterok)". */
export const waitsForText = (dependency: DependencyFacts) => `waits for ${targetName(dependency)} (${kindWord(dependency.kind)})`;

function endedAs(state: string): string {
  switch (state) {
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'was cancelled';
    case 'TIMEOUT':
      return 'ran out of time';
    case 'OUT_OF_MEMORY':
      return 'ran out of memory';
    case 'COMPLETED_WITH_FAILURES':
      return 'had failed tasks';
    case 'COMPLETED':
      return 'completed';
    default:
      return `ended (${stateLabel(state as JobState)})`;
  }
}

/**
 * Why a dependency can no longer be met, in plain words, when its target's state says so (null when it does not:
 * still running, or a state that satisfies it). Without the target's state, what the kind asks for.
 */
export function neverSatisfiedText(dependency: DependencyFacts, target: TargetFacts | null): string | null {
  const who = targetName(dependency);
  const kind = kindWord(dependency.kind);
  if (!target) return `${who} ended in a way this job cannot follow (${kind})`;
  const ended = !['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING'].includes(target.state);
  if (!ended) return null;
  switch (dependency.kind) {
    case 'AFTEROK':
      return target.state === 'COMPLETED' ? null : `${who} ${endedAs(target.state)} and this job waits for its success (${kind})`;
    case 'AFTERNOTOK':
      return target.state === 'COMPLETED' ? `${who} completed and this job waits for its failure (${kind})` : null;
    case 'AFTERCORR':
      return target.state === 'COMPLETED' ? null : `${who} ${endedAs(target.state)} and this job waits for the success of its matching task (${kind})`;
    case 'AFTERANY':
      return target.state === 'CANCELLED' ? `${who} was cancelled before it ended (${kind})` : null;
  }
}

/** The whole sentence: "will never start: job 12 failed and this job waits for its success (afterok)". */
export function neverStartsText(dependencies: readonly DependencyFacts[], targets: ReadonlyArray<TargetFacts | null> | undefined): string {
  const reasons = dependencies.map((dependency, index) => neverSatisfiedText(dependency, targets ? (targets[index] ?? null) : null)).filter((reason): reason is string => reason !== null);
  const unique = [...new Set(reasons)];
  if (unique.length === 0) return 'will never start: SLURM says what it waits for can no longer happen';
  return `will never start: ${unique.join('; ')}`;
}
