// The job service: preview → submit → follow → cancel / clone / archive, and reading a job's log. It wires the
// operations, each in its own module beside it; a job's state changes only through transitions.ts.
import type { EntityManager } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import type { Orm } from '../db/orm.js';
import type { PubSub } from '../events.js';
import type { ProjectService } from '../projects/service.js';
import { createJobControl } from './control.js';
import { dependencyDirective } from './dependencies.js';
import { createLineage } from './lineage.js';
import { readJobLog } from './log.js';
import { createLaunchPreparer, type LaunchBaseOptions, type LaunchInput, type ScriptPreview } from './prepare.js';
import type { PreflightService } from './preflight.js';
import { getJob, jobWithSettings, listJobs } from './queries.js';
import { createSubmissions, type SubmissionOptions } from './submit.js';

export type { JobLog } from './log.js';
export type { LineageNode } from './lineage.js';
export type { LaunchInput, ScriptPreview } from './prepare.js';
export type { JobFilter } from './queries.js';
export type { SubmitPhase } from './submit.js';

export interface JobServiceOptions extends Pick<SubmissionOptions, 'afterSbatch' | 'onSubmitPhase' | 'replicas'> {
  orm: Orm;
  clusters: ClusterService;
  projects: ProjectService;
  events: PubSub;
  partitions: LaunchBaseOptions['partitions'];
  preflight: PreflightService;
}

export type JobService = ReturnType<typeof createJobService>;

export function createJobService({ orm, clusters, projects, events, partitions, preflight, afterSbatch, onSubmitPhase, replicas }: JobServiceOptions) {
  const prepare = createLaunchPreparer({ clusters, projects, partitions, dependencies: (em, input) => dependencyDirective(em, input.dependsOn, { cluster: input.cluster, sweepSize: null }) });
  const submissions = createSubmissions({ orm, clusters, events, prepare, afterSbatch, onSubmitPhase, replicas });
  return {
    get: getJob,
    /** `requester` (a token) is whom SLURM's verdict is rate-limited for (jobs/preflight.ts). */
    async preview(em: EntityManager, input: LaunchInput, tag: string | null = null, requester = 'server'): Promise<ScriptPreview> {
      const prepared = await prepare(em, input, tag);
      const verdict = await preflight.check(prepared.cluster.name, prepared.project.userId, prepared.script, prepared.resources.gpuType, requester);
      return { tag: prepared.tag, script: prepared.script, commit: prepared.project.headSha, warnings: prepared.warnings, preflight: verdict };
    },
    submit: submissions.submit,
    recoverSubmissions: submissions.recoverSubmissions,
    holdSubmissions: submissions.hold,
    ...createJobControl({ clusters, events }),
    ...createLineage({ projects }),
    list: listJobs,
    /** A listed job's script and settings, which a list leaves out: for the fields that show them. */
    withSettings: jobWithSettings,
    log: (em: EntityManager, id: number, tailBytes: number, collapseProgress: boolean) => readJobLog({ clusters, events }, em, id, tailBytes, collapseProgress),
  };
}
