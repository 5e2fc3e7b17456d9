// The MCP tools: each one a GraphQL document run as the session's token (server/mcp/graphql.ts), an input schema in
// zod, and words written for a model to choose the right tool. Results are the document's selection, kept small: a
// list is a page, a log is a bounded tail, a series is a few points.
import type { GraphQLSchema } from 'graphql';
import { z } from 'zod';
import { ERROR_FIELDS, query, successOf, ToolError, type GraphQLGateway, type Origin } from './graphql.js';
import { inputObject, zodShapeOf } from './input-schema.js';
import type { Previews } from './previews.js';
import { watchUntilEnd, type WatchKind, type Watched } from './watch.js';

export interface ToolContext {
  gateway: GraphQLGateway;
  origin: Origin;
  previews: Previews;
  /** Ends a long call (wait_for_jobs) when the client cancels it or the session closes. */
  signal: AbortSignal;
  /** Tells the client that a long call is still working (a progress notification, when it asked for them). */
  progress(message: string): Promise<void>;
  /** Counts a wait of this session while it lasts (call the returned function at its end); refused past a few. */
  beginWait(): () => void;
}

/** What a tool returns: a JSON value, and texts to show as they are (a script). */
export interface ToolOutput {
  value: unknown;
  texts?: string[];
}

export interface Tool {
  name: string;
  title: string;
  description: string;
  /** Changes something on a cluster: only for tokens that are not read-only. */
  write: boolean;
  input: Shape;
  run(args: Record<string, unknown>, context: ToolContext): Promise<ToolOutput>;
}

type Shape = Record<string, z.ZodType>;

function tool<Input extends Shape>(spec: {
  name: string;
  title: string;
  description: string;
  write?: boolean;
  input: Input;
  run(args: z.infer<z.ZodObject<Input>>, context: ToolContext): Promise<ToolOutput>;
}): Tool {
  return { write: false, ...spec, run: spec.run as Tool['run'] };
}

const id = (what: string) => z.number().int().positive().describe(what);
const page = {
  first: z.number().int().min(1).max(100).default(20).describe('How many, newest first (at most 100).'),
  after: z.string().max(200).optional().describe("The previous page's endCursor, for the next page."),
};

/** At most this many rows of a list inside one answer (a sweep's runs, nodes with free GPUs, a form's parameters). */
const MAX_ROWS = 200;
/** `{ [key]: rows }`, cut at MAX_ROWS with a note saying how many were left out. */
function bounded(key: string, rows: unknown[], what: string): Record<string, unknown> {
  return rows.length <= MAX_ROWS ? { [key]: rows } : { [key]: rows.slice(0, MAX_ROWS), note: `${rows.length - MAX_ROWS} more ${what} left out` };
}

const PREFLIGHT_FIELDS = 'preflight { outcome message field partition nodes estimatedStartAt }';

export const JOB_FIELDS = `id name description state slurmState reason waitingFor reasonExplained { action blocked } cluster slurmJobId
  projectId sweepId arrayIndex tag commitSha branch nodeList exitCode signal submitError createdAt submittedAt estimatedStartAt
  startedAt endedAt elapsedSeconds restarts requeues { at cause runStartedAt } metricNames lastMetrics { name step value nonFinite }
  wandbUrl input { primary groups { group option options } overrides rawOverrides parameters { path value } gpuType gpusPerNode
  nodes memory timeLimit partition account qos }`;

export const SWEEP_FIELDS = `id name state cluster projectId size throttle retries arrayJobId commitSha tag definition varying
  counts { state count } createdAt endedAt metricNames runs { index values task { id state exitCode elapsedSeconds } }`;

/** The log text a tool or resource reads at most: a model's context is precious, and the end is what says why. */
export const MAX_LOG_BYTES = 64 * 1024;

export async function readJob(context: Pick<ToolContext, 'gateway' | 'origin'>, jobId: number): Promise<Record<string, unknown>> {
  const data = await query(context.gateway, context.origin, `query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { ${JOB_FIELDS} } } ${ERROR_FIELDS} } }`, { id: jobId });
  return successOf(data.job);
}

export async function readJobLog(context: Pick<ToolContext, 'gateway' | 'origin'>, jobId: number, tailBytes: number): Promise<{ state: string; text: string; truncated: boolean; sizeBytes: number | null }> {
  const data = await query(
    context.gateway,
    context.origin,
    `query($id: Int!, $tail: ByteOffset!) { job(id: $id) { ... on QueryJobSuccess { data { state log(tailBytes: $tail, collapseProgress: true) {
      ... on JobLogSuccess { data { text truncated sizeBytes } } ${ERROR_FIELDS} ... on RateLimitedError { retryAfterSeconds } } } } ${ERROR_FIELDS} } }`,
    { id: jobId, tail: tailBytes },
  );
  const job = successOf<{ state: string; log: unknown }>(data.job);
  return { state: job.state, ...successOf<{ text: string; truncated: boolean; sizeBytes: number | null }>(job.log) };
}

export async function readSweep(context: Pick<ToolContext, 'gateway' | 'origin'>, sweepId: number, metric?: string): Promise<Record<string, unknown>> {
  const metrics = metric ? 'metrics(name: $metric, maxPoints: 2) { index series { points { step value nonFinite } } }' : '';
  const data = await query(
    context.gateway,
    context.origin,
    `query($id: Int!${metric ? ', $metric: String!' : ''}) { sweep(id: $id) { ... on QuerySweepSuccess { data { ${SWEEP_FIELDS} ${metrics} } } ${ERROR_FIELDS} } }`,
    metric ? { id: sweepId, metric } : { id: sweepId },
  );
  const sweep = successOf<Record<string, unknown> & { runs: Array<{ index: number }>; metrics?: Array<{ index: number; series: { points: Array<{ step: number; value: number | null; nonFinite: string | null }> } }> }>(data.sweep);
  const { metrics: series, runs, ...rest } = sweep;
  // Each run's last value of the metric beside it: "which run wins" is one read, not one per run.
  const last = new Map(series?.map((entry) => [entry.index, entry.series.points.at(-1)]) ?? []);
  return { ...rest, ...bounded('runs', metric ? runs.map((run) => ({ ...run, [metric]: last.get(run.index) ?? null })) : runs, 'runs') };
}

/** The tools, built for this schema: a launch's and a sweep's inputs are the schema's own input types. */
export function createTools(schema: GraphQLSchema): Tool[] {
  const [launchInput, sweepInput, jobFilter, sweepFilter, groupChoice] = ['JobInput', 'SweepInput', 'JobFilter', 'SweepFilter', 'GroupChoiceInput'].map((name) =>
    zodShapeOf(inputObject(schema, name)),
  ) as [Shape, Shape, Shape, Shape, Shape];
  return [
    tool({
      name: 'list_clusters',
      title: 'Clusters',
      description:
        'The SLURM clusters this server launches on: whether each is reachable (with the error when not), whether its login needs re-authentication (MFA), its partitions and SLURM version. Use gpu_availability for free GPUs.',
      input: {},
      async run(_args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          '{ clusters { name reachable error stale needsReauth slurmVersion lastPollAt lastPollError partitions { name isDefault available nodes } } }',
        );
        return { value: data.clusters };
      },
    }),
    tool({
      name: 'gpu_availability',
      title: 'Free GPUs on a cluster',
      description:
        "GPUs on one cluster by type and by partition: total, allocated, free, and pending demand (GPUs queued jobs ask for), plus the nodes with free GPUs. Answered from the server's recent read (fetchedAt); refresh asks the cluster now (at most once per 10 s).",
      input: { cluster: z.string().min(1).max(200).describe('A name from list_clusters.'), refresh: z.boolean().default(false) },
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($cluster: String!, $refresh: Boolean) { gpuAvailability(cluster: $cluster, refresh: $refresh) { ... on QueryGpuAvailabilitySuccess { data {
            cluster fetchedAt stale lastError byType { type total allocated free pendingDemand } byPartition { partition type total allocated free pendingDemand }
            nodesWithFreeGpus { node type free partitions } } } ${ERROR_FIELDS} } }`,
          args,
        );
        const availability = successOf<{ nodesWithFreeGpus: unknown[] }>(data.gpuAvailability);
        return { value: { ...availability, ...bounded('nodesWithFreeGpus', availability.nodesWithFreeGpus, 'nodes') } };
      },
    }),
    tool({
      name: 'list_projects',
      title: 'Projects',
      description: 'The git repositories jobs are launched from: id (projectId in other tools), name, branch, HEAD commit and subject, whether the work tree is dirty or HEAD unpushed.',
      input: {},
      async run(_args, context) {
        const data = await query(context.gateway, context.origin, '{ projects { id name branch headSha headSubject dirty pushed } }');
        return { value: data.projects };
      },
    }),
    tool({
      name: 'search_jobs',
      title: 'Find jobs',
      description:
        "Jobs, newest first, filtered by words in their name or description, state, cluster, project or sweep. Without sweepId or tasks: true, a sweep's tasks are left out (see list_sweeps). Each row is a summary; get_job has the rest.",
      input: { ...jobFilter, ...page },
      async run({ first, after, ...filter }, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($filter: JobFilter, $first: Int, $after: String) { jobs(filter: $filter, first: $first, after: $after) {
            nodes { id name state cluster projectId sweepId arrayIndex slurmJobId submittedAt startedAt endedAt exitCode reason }
            pageInfo { endCursor hasNextPage } } }`,
          { filter, first, after },
        );
        return { value: data.jobs };
      },
    }),
    tool({
      name: 'list_sweeps',
      title: 'Sweeps',
      description: 'Sweeps (a Hydra multirun submitted as one SLURM job array), newest first: state, size, task counts by state, the overrides that vary. get_sweep has the table of runs.',
      input: { ...sweepFilter, ...page },
      async run({ first, after, ...filter }, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($filter: SweepFilter, $first: Int, $after: String) { sweeps(filter: $filter, first: $first, after: $after) {
            nodes { id name state cluster projectId size varying counts { state count } createdAt endedAt } pageInfo { endCursor hasNextPage } } }`,
          { filter, first, after },
        );
        return { value: data.sweeps };
      },
    }),
    tool({
      name: 'get_job',
      title: 'A job',
      description:
        "One job: its state (and SLURM's raw state and reason, explained with what to do when it waits), its timeline (created, submitted, estimated start, started, ended, requeues), exit code, nodes, the launch's settings, and the last value of each metric. Use job_log for its output and job_metrics for curves.",
      input: { id: id('The job id (not the SLURM job id).') },
      async run(args, context) {
        return { value: await readJob(context, args.id) };
      },
    }),
    tool({
      name: 'job_log',
      title: "A job's output",
      description: `The end of a job's output (stdout and stderr as SLURM writes them), progress bars collapsed to their last state: at most ${MAX_LOG_BYTES / 1024} kB. Read it to see why a job failed.`,
      input: { id: id('The job id.'), tailBytes: z.number().int().min(1024).max(MAX_LOG_BYTES).default(16 * 1024).describe('How much of the end to read, in bytes.') },
      async run(args, context) {
        const log = await readJobLog(context, args.id, args.tailBytes);
        return { value: { state: log.state, truncated: log.truncated, sizeBytes: log.sizeBytes }, texts: [log.text] };
      },
    }),
    tool({
      name: 'job_metrics',
      title: "A job's training curves",
      description:
        "A job's metrics (what its training writes: TensorBoard events, CSV or JSON lines): each series's min, max, number of points and up to maxPoints points spread over its steps (the last one included). Without names, every metric the job has.",
      input: {
        id: id('The job id.'),
        names: z.array(z.string().max(200)).max(20).optional().describe('Metric names, as get_job lists them in metricNames.'),
        maxPoints: z.number().int().min(2).max(200).default(20),
      },
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($id: Int!, $names: [String!], $maxPoints: Int) { job(id: $id) { ... on QueryJobSuccess { data { state metricNames
            metrics(names: $names, maxPoints: $maxPoints) { name total min max points { step value nonFinite } } } } ${ERROR_FIELDS} } }`,
          args,
        );
        return { value: successOf(data.job) };
      },
    }),
    tool({
      name: 'get_sweep',
      title: "A sweep's table",
      description:
        "One sweep: its state, task counts, the overrides that vary and a row per run (its values and its task's state, exit code and run time). With metric, each run also gets its last value of that metric, to tell which run wins (lowest for a loss, highest for an accuracy: you decide).",
      input: { id: id('The sweep id.'), metric: z.string().min(1).max(200).optional().describe('A metric name from the sweep’s metricNames.') },
      async run(args, context) {
        return { value: await readSweep(context, args.id, args.metric) };
      },
    }),
    tool({
      name: 'project_form',
      title: "A project's launch form",
      description:
        "What a launch of a project can set, composed as Hydra would compose its config: the primary configs (pick one as primary), the config groups with their options and defaults (set them in groups), and every parameter with its type and default (set them in parameters as {path, value}). Pass primary and groups to see the parameters those choices bring.",
      input: {
        projectId: id('From list_projects.'),
        primary: z.string().max(200).optional().describe('A primary config, e.g. "train"; its default when omitted.'),
        groups: z.array(z.object(groupChoice)).max(100).optional().describe('Group choices, e.g. [{group: "model", option: "vit"}].'),
      },
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($projectId: Int!, $primary: String, $groups: [GroupChoiceInput!]) { hydraConfig(projectId: $projectId, primary: $primary, groups: $groups) {
            ... on QueryHydraConfigSuccess { data { primaries primary groups { path overrideKey options default optional listValued required }
            parameters { path type default required readOnly } } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
          { ...args, groups: args.groups ?? [] },
        );
        const form = successOf<{ parameters: unknown[] }>(data.hydraConfig);
        return { value: { ...form, ...bounded('parameters', form.parameters, 'parameters') } };
      },
    }),
    tool({
      name: 'preview_launch',
      title: 'Preview a launch',
      description:
        "Builds the exact sbatch script a launch would submit, without submitting it, and asks SLURM whether it would accept it (sbatch --test-only: its verdict, estimated start and nodes). Returns a tag. Show the user the script and the verdict, then submit with submit_preview and that tag. Nothing is stored or queued by a preview.",
      input: launchInput,
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($input: JobInput!) { previewScript(input: $input) { ... on QueryPreviewScriptSuccess { data { tag commit script warnings ${PREFLIGHT_FIELDS} } }
            ${ERROR_FIELDS} ... on ValidationError { field } } }`,
          { input: args },
        );
        const preview = successOf<{ tag: string; commit: string; script: string; warnings: string[]; preflight: unknown }>(data.previewScript);
        // Pinned to the previewed commit: submitJob refuses when HEAD moved, so what is submitted is what was shown.
        context.previews.remember(preview.tag, { kind: 'launch', input: { ...args, commit: preview.commit }, script: preview.script });
        const { script, ...rest } = preview;
        return { value: { ...rest, next: `submit_preview with tag "${preview.tag}" submits exactly this script` }, texts: [script] };
      },
    }),
    tool({
      name: 'preview_sweep',
      title: 'Preview a sweep',
      description:
        "Expands a Hydra sweep (e.g. sweep: [\"optimizer.lr=1e-4,3e-4,1e-3\", \"seed=1,2\"]) into its runs, builds the one job-array script they share and asks SLURM's verdict on it. Returns a tag; show the user the runs and the script, then submit with submit_preview.",
      input: sweepInput,
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `query($input: SweepInput!) { previewSweep(input: $input) { ... on QueryPreviewSweepSuccess { data { tag commit count limit throttle varying
            runs { index overrides } script warnings ${PREFLIGHT_FIELDS} } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
          { input: args },
        );
        const preview = successOf<{ tag: string; commit: string; script: string; runs: unknown[] }>(data.previewSweep);
        const input = args as { job: Record<string, unknown> };
        context.previews.remember(preview.tag, { kind: 'sweep', input: { ...input, job: { ...input.job, commit: preview.commit } }, script: preview.script });
        const { script, runs, ...rest } = preview;
        return { value: { ...rest, ...bounded('runs', runs, 'runs'), next: `submit_preview with tag "${preview.tag}" submits exactly this sweep` }, texts: [script] };
      },
    }),
    tool({
      name: 'submit_preview',
      title: 'Submit a previewed launch or sweep',
      description:
        "Submits what preview_launch or preview_sweep showed under this tag, in this session: the same settings on the same commit, so the same script (should the server's sbatch template have changed in between, the answer says so and shows the script that runs). Only after the user has seen the script. Refused when the repository moved to another commit since the preview (preview again).",
      write: true,
      input: { tag: z.string().regex(/^[a-z0-9]{12}$/, 'a tag as a preview returned it: 12 lowercase letters or digits') },
      async run(args, context) {
        const preview = context.previews.recall(args.tag);
        if (!preview) throw new ToolError(`no preview with tag "${args.tag}" in this session: call preview_launch or preview_sweep first and show the user the script`);
        let submitted: { id: number };
        let script: string | undefined;
        if (preview.kind === 'launch') {
          const data = await query(
            context.gateway,
            context.origin,
            `mutation($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { ... on MutationSubmitJobSuccess { data { id name state cluster slurmJobId submitError script } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
            { input: preview.input, tag: args.tag },
          );
          ({ script, ...submitted } = successOf<{ id: number; script: string }>(data.submitJob));
        } else {
          const data = await query(
            context.gateway,
            context.origin,
            `mutation($input: SweepInput!, $tag: String) { submitSweep(input: $input, tag: $tag) { ... on MutationSubmitSweepSuccess { data { id name state cluster size arrayJobId } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
            { input: preview.input, tag: args.tag },
          );
          submitted = successOf<{ id: number }>(data.submitSweep);
          // Every task runs the array's one script: the first task's is it.
          const tasks = await query(context.gateway, context.origin, 'query($id: Int!) { jobs(filter: { sweepId: $id }, first: 1) { nodes { script } } }', { id: submitted.id });
          script = (tasks.jobs as { nodes: Array<{ script: string }> }).nodes[0]?.script;
        }
        // Same commit and settings make the same script, unless the sbatch template or the project's settings changed
        // in between: then the user is told, with the script that runs.
        const asPreviewed = script === preview.script;
        return {
          value: { [preview.kind === 'launch' ? 'job' : 'sweep']: submitted, scriptAsPreviewed: asPreviewed, ...(asPreviewed ? {} : { warning: 'the submitted script differs from the preview (the sbatch template or the project settings changed in between): it follows' }) },
          texts: asPreviewed || script === undefined ? [] : [script],
        };
      },
    }),
    tool({
      name: 'wait_for_jobs',
      title: 'Wait for jobs or sweeps to end',
      description:
        'Waits until every one of these jobs and sweeps has ended (a job COMPLETED, FAILED, CANCELLED, TIMEOUT, …; a sweep when all its tasks have) or timeoutSeconds pass, whichever is first, and returns how each stands. Costs the cluster nothing: the server is told of changes by its poller. Sends progress as they change. Call it again if some are still running.',
      input: {
        ids: z.array(z.number().int().positive()).max(20).default([]).describe('Job ids.'),
        sweepIds: z.array(z.number().int().positive()).max(20).default([]).describe('Sweep ids: a sweep has ended when all its tasks have.'),
        timeoutSeconds: z.number().int().min(1).max(600).default(50).describe('Many MCP clients give up on a call after 60 s: stay under that unless yours waits longer.'),
      },
      async run(args, context) {
        const targets = [...args.ids.map((id) => ({ kind: 'job' as const, id })), ...args.sweepIds.map((id) => ({ kind: 'sweep' as const, id }))];
        if (targets.length === 0) throw new ToolError('give ids or sweepIds: nothing to wait for');
        if (targets.length > 20) throw new ToolError(`at most 20 jobs and sweeps at once, not ${targets.length}`);
        return { value: await waitForEnds(context, targets, args.timeoutSeconds * 1000) };
      },
    }),
    tool({
      name: 'cancel_job',
      title: 'Cancel a job',
      description: 'Cancels a job (scancel): a pending job leaves the queue, a running one is stopped. Its state becomes CANCELLED at the next poll.',
      write: true,
      input: { id: id('The job id.') },
      async run(args, context) {
        const data = await query(context.gateway, context.origin, `mutation($id: Int!) { cancelJob(id: $id) { ... on MutationCancelJobSuccess { data { id state } } ${ERROR_FIELDS} ... on ValidationError { field } } }`, args);
        return { value: successOf(data.cancelJob) };
      },
    }),
    tool({
      name: 'cancel_sweep',
      title: 'Cancel a sweep',
      description: 'Cancels every task of a sweep that has not ended, or with onlyPending only those not started (running ones finish).',
      write: true,
      input: { id: id('The sweep id.'), onlyPending: z.boolean().default(false) },
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `mutation($id: Int!, $onlyPending: Boolean) { cancelSweep(id: $id, onlyPending: $onlyPending) { ... on MutationCancelSweepSuccess { data { id state counts { state count } } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
          args,
        );
        return { value: successOf(data.cancelSweep) };
      },
    }),
    tool({
      name: 'relaunch_failed_tasks',
      title: "Relaunch a sweep's failed tasks",
      description: "Runs a sweep's failed tasks again as one new job array, on the same commit with the same overrides; they replace the failed runs in the sweep's table.",
      write: true,
      input: { id: id('The sweep id.') },
      async run(args, context) {
        const data = await query(
          context.gateway,
          context.origin,
          `mutation($id: Int!) { relaunchFailedTasks(id: $id) { ... on MutationRelaunchFailedTasksSuccess { data { id state retries counts { state count } } } ${ERROR_FIELDS} ... on ValidationError { field } } }`,
          args,
        );
        return { value: successOf(data.relaunchFailedTasks) };
      },
    }),
  ];
}

/** Between progress notices while nothing changes, so a client that resets its timeout on progress keeps waiting. */
const HEARTBEAT_MS = 20_000;

/**
 * How each job and sweep stands once all have ended, or at the deadline. Each is a watch of its own (a subscription in
 * this process, never a remote command); the first that fails (not found, token revoked) ends the wait with its reason.
 */
export async function waitForEnds(context: ToolContext, targets: Array<{ kind: WatchKind; id: number }>, timeoutMs: number): Promise<{ ended: boolean; jobs: Watched[]; sweeps: Watched[] }> {
  const endWait = context.beginWait();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  context.signal.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(onAbort, timeoutMs);
  const latest = new Map<string, Watched>();
  const ended = new Set<string>();
  const notify = (message: string) => void context.progress(message).catch(() => undefined);
  const heartbeat = setInterval(() => notify(`waiting: ${targets.length - ended.size} of ${targets.length} not ended`), HEARTBEAT_MS);
  try {
    await Promise.all(
      targets.map(async ({ kind, id }) => {
        const key = `${kind} ${id}`;
        const result = await watchUntilEnd(context.gateway, context.origin, kind, id, stop.signal, (value) => {
          const before = latest.get(key);
          latest.set(key, value);
          // The first reads make one notice, once all are in; then each change is one.
          // In the order asked: the reads answer in any order.
          if (!before && latest.size === targets.length) notify(`watching ${targets.map((target) => `${target.kind} ${target.id}: ${String(latest.get(`${target.kind} ${target.id}`)!.state)}`).join(', ')}`);
          else if (before && (before.state !== value.state || before.endedAt !== value.endedAt)) notify(`${key}: ${String(value.state)}`);
        });
        if (result.ended) ended.add(key);
      }),
    );
    const of = (kind: WatchKind) => targets.filter((target) => target.kind === kind).map((target) => latest.get(`${target.kind} ${target.id}`)!);
    return { ended: ended.size === targets.length, jobs: of('job'), sweeps: of('sweep') };
  } finally {
    stop.abort();
    clearTimeout(deadline);
    clearInterval(heartbeat);
    context.signal.removeEventListener('abort', onAbort);
    endWait();
  }
}
