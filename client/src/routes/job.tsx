import { useLocation, useParams } from '@solidjs/router';
import { For, Index, Show, createEffect, createMemo, createSignal, on } from 'solid-js';
import { createJobLive, type JobDetail, type JobSummary } from '../api/jobs';
import { createLive } from '../api/live';
import { fetchDependencyTarget } from '../api/sweeps';
import { JobActionButtons } from '../components/job-actions';
import { JobMetrics } from '../components/job-metrics';
import { LogView } from '../components/log-view';
import { DataNotice, PageHeader } from '../components/page';
import { StateBadge } from '../components/state-badge';
import { afterPaint } from '../lib/after-paint';
import { useNow } from '../lib/clock';
import { NEVER_SATISFIED, neverStartsText, targetName } from '../lib/dependency';
import { dateTime, duration, plural, secondsBetween, shortSha } from '../lib/format';
import { isActive } from '../lib/job-list';
import { startsIn } from '../lib/pending';
import { jobTimeline } from '../lib/timeline';

const STEP_MARK = { done: '✓', current: '●', upcoming: '', failed: '✕', skipped: '–' } as const;

export function resourcesText(job: Pick<JobDetail, 'input'>): string {
  const input = job.input;
  const gpus = input.gpusPerNode > 0 ? `${input.gpusPerNode} ${input.gpuType ?? ''} GPU${input.gpusPerNode === 1 ? '' : 's'}`.replace('  ', ' ') : 'no GPU';
  const perNode = input.nodes > 1 ? `${input.nodes} nodes × ${gpus}` : gpus;
  // Left out at launch: the partition's defaults applied (Cluster.partitionLimits says what they are now).
  return `${perNode} · ${plural(input.cpusPerTask, 'CPU')} · ${input.memory ?? 'default'} memory · ${input.timeLimit ?? 'default'} time limit`;
}

export default function Job() {
  const params = useParams<{ id: string }>();
  const location = useLocation();
  const id = () => (/^\d+$/.test(params.id) ? Number(params.id) : null);
  const job = createJobLive(id);
  const now = useNow(1000);
  const timeline = createMemo(() => (job.value() ? jobTimeline(job.value()!, now()) : []));
  const runtime = () => {
    const value = job.value();
    if (!value?.startedAt) return null;
    if (value.state === 'RUNNING' || value.state === 'COMPLETING') return secondsBetween(value.startedAt, now());
    return value.elapsedSeconds ?? secondsBetween(value.startedAt, value.endedAt);
  };
  // Mounted while the job may still write metrics and kept once mounted: the names it found stay with it.
  const chartable = createMemo((was: boolean) => was || !!job.value() && (job.value()!.metricNames.length > 0 || isActive(job.value()!.state)), false);
  const update = (changed: JobSummary) => job.mutate((current) => ({ ...current, ...changed }));
  const neverStarts = () => job.value()?.reason === NEVER_SATISFIED && job.value()?.state === 'PENDING';
  // What it waits for, read only when SLURM says that can never happen: the reason is said from their states.
  const targets = createLive({
    key: () => neverStarts() && `dependency-targets:${job.value()!.id}`,
    persist: false,
    load: () => Promise.all(job.value()!.dependsOn.map((dependency) => fetchDependencyTarget(dependency).catch(() => null))),
  });

  // The job card is painted first (its title is the screen's largest paint), then the metrics card, then the
  // timeline, details and log, each rendered in a task of its own after the previous paint: rendered at once, with
  // the charts, they made the longest task of the screen's start (Lighthouse mobile's total blocking time). Each
  // part comes below everything shown, so nothing on screen moves.
  const [parts, setParts] = createSignal(0);
  createEffect(
    on(
      () => !!job.value(),
      (hasJob) => {
        if (!hasJob || parts() > 0) return;
        void afterPaint()
          .then(() => setParts(1))
          .then(afterPaint)
          .then(() => setParts(2));
      },
    ),
  );
  createEffect(
    on(parts, (shown) => {
      if (shown === 2 && location.hash === '#log') requestAnimationFrame(() => document.getElementById('log')?.scrollIntoView());
    }),
  );

  return (
    <>
      <PageHeader
        title={job.value() ? `${job.value()!.name} #${job.value()!.id}` : `Job ${params.id}`}
        back={
          job.value()?.sweep
            ? { href: `/sweeps/${job.value()!.sweep!.id}`, label: `Sweep ${job.value()!.sweep!.name}` }
            : job.value()
              ? { href: `/projects/${job.value()!.projectId}`, label: job.value()!.project.name }
              : { href: '/', label: 'Home' }
        }
      >
        <Show when={job.value()}>{(value) => <StateBadge state={value().state} />}</Show>
      </PageHeader>
      <DataNotice what="the job" loading={job.loading()} hasValue={!!job.value()} error={job.error()} cachedAt={job.cachedAt()} onRetry={job.refetch} />
      <Show when={job.value()}>
        {(value) => (
          <>
            <Show when={value().description}>
              <p class="job-description">{value().description}</p>
            </Show>
            <Show when={value().sweep}>
              {(sweep) => (
                <p class="notice" data-testid="task-of">
                  Task {value().arrayIndex} of sweep <a href={`/sweeps/${sweep().id}`}>{sweep().name}</a> ({plural(sweep().size, 'run')})
                </p>
              )}
            </Show>
            <Show when={neverStarts()}>
              <p class="error dependency-never" role="status" data-testid="never-satisfied">
                This job {neverStartsText(value().dependsOn, targets.value() ?? undefined)}. Cancel it, or launch it again without that dependency.
              </p>
            </Show>
            <Show when={value().state === 'PENDING' && !neverStarts()}>
              <p class={value().reasonExplained?.blocked ? 'warning' : 'notice'} role="status" data-testid="pending-why">
                <strong>{startsIn(value().estimatedStartAt, now())}</strong>
                <Show when={value().waitingFor}>{(why) => <> · {why()}</>}</Show>
                <Show when={value().reasonExplained?.action}>
                  {(action) => (
                    <>
                      <br />
                      <span class="field-hint">{action()}</span>
                    </>
                  )}
                </Show>
              </p>
            </Show>
            <JobActionButtons job={value()} onChange={update} />
            <Show when={parts() >= 1 && chartable()}>
              <JobMetrics jobId={value().id} metricNames={value().metricNames} />
            </Show>
            <Show when={parts() >= 2}>
              <div class="two-columns spaced">
                <div class="stack">
                  <section class="card" aria-labelledby="timeline-title">
                    <h2 id="timeline-title" class="section-title">
                      Timeline
                    </h2>
                    <ol class="timeline" data-testid="timeline">
                      {/* Index, not For: the steps are rebuilt every second while the job runs; their rows stay. */}
                      <Index each={timeline()}>
                        {(step) => (
                          <li class={`step-${step().status}`} data-step={step().key} data-status={step().status}>
                            <span class="step-mark" aria-hidden="true">
                              {STEP_MARK[step().status]}
                            </span>
                            <span class="step-title">
                              {step().title}
                              <span class="visually-hidden"> ({step().status})</span>
                            </span>
                            <Show when={step().detail}>
                              <span class="step-detail">{step().detail}</span>
                            </Show>
                            <Show when={step().at && step().status !== 'upcoming'}>
                              <span class="step-at">{dateTime(step().at)}</span>
                            </Show>
                          </li>
                        )}
                      </Index>
                    </ol>
                  </section>
                  <section class="card" aria-labelledby="details-title">
                    <h2 id="details-title" class="section-title">
                      Details
                    </h2>
                    <dl class="facts">
                      <dt>Runtime</dt>
                      <dd data-testid="runtime">{runtime() === null ? 'not started' : duration(runtime())}</dd>
                      <dt>Resources</dt>
                      <dd>{resourcesText(value())}</dd>
                      <dt>Cluster</dt>
                      <dd>
                        {value().cluster}
                        {value().input.partition ? ` · ${value().input.partition}` : ''}
                        {value().nodeList ? ` · ${value().nodeList}` : ''}
                      </dd>
                      <dt>W&amp;B</dt>
                      <dd>
                        <Show when={value().wandbUrl} fallback={<span class="muted">no run link yet</span>}>
                          {(url) => (
                            <a href={url()} target="_blank" rel="noopener" class="mono">
                              {url().replace(/^https?:\/\//, '')}
                            </a>
                          )}
                        </Show>
                      </dd>
                      <dt>Commit</dt>
                      <dd class="mono">
                        {shortSha(value().commitSha)}
                        {value().branch ? ` on ${value().branch}` : ''}
                      </dd>
                      <Show when={value().input.primary}>
                        <dt>Config</dt>
                        <dd class="mono">
                          {value().input.primary}
                          {[...value().input.groups.map((choice) => ` ${choice.group}=${choice.options ? `[${choice.options.join(',')}]` : (choice.option ?? 'null')}`), ...value().input.parameters.map((parameter) => ` ${parameter.add ? '+' : ''}${parameter.path}=${JSON.stringify(parameter.value)}`)].join('')}
                          {value().input.rawOverrides ? ` ${value().input.rawOverrides}` : ''}
                          {value().input.overrides.length ? ` ${value().input.overrides.join(' ')}` : ''}
                        </dd>
                      </Show>
                      <dt>SLURM</dt>
                      <dd class="mono">
                        {value().slurmJobId ? `job ${value().slurmJobId}` : 'no job id'}
                        {value().slurmState ? ` · ${value().slurmState}` : ''}
                      </dd>
                      <Show when={value().dependsOn.length > 0}>
                        <dt>Waits for</dt>
                        <dd data-testid="depends-on">
                          <For each={value().dependsOn}>
                            {(dependency, position) => (
                              <>
                                {position() > 0 ? ', ' : ''}
                                <a href={dependency.jobId != null ? `/jobs/${dependency.jobId}` : `/sweeps/${dependency.sweepId}`}>{targetName(dependency)}</a> ({dependency.kind.toLowerCase()})
                              </>
                            )}
                          </For>
                        </dd>
                      </Show>
                      <Show when={value().parentId}>
                        <dt>Cloned from</dt>
                        <dd>
                          <a href={`/jobs/${value().parentId}`}>job #{value().parentId}</a> ·{' '}
                          <a href={`/projects/${value().projectId}/lineage`}>lineage</a>
                        </dd>
                      </Show>
                      <dt>Tag</dt>
                      <dd class="mono">{value().tag}</dd>
                    </dl>
                    <Show when={value().submitError}>
                      <p class="error">{value().submitError}</p>
                    </Show>
                  </section>
                </div>
                <LogView jobId={value().id} state={value().state} startedAt={value().startedAt} onWandbUrl={(url) => !value().wandbUrl && job.mutate((current) => ({ ...current, wandbUrl: url }))} />
              </div>
            </Show>
          </>
        )}
      </Show>
    </>
  );
}
