// Runs side by side (/compare?jobs=1,2,3): one metric of each on one chart, and the settings that differ between
// them. Reached from a sweep's table, the lineage screen or a project's jobs in their compare mode.
import { useSearchParams } from '@solidjs/router';
import { For, Show, createMemo, createSignal } from 'solid-js';
import { createLive } from '../api/live';
import { createMetricsTick, fetchComparedJobs, fetchComparedSeries, refetchOn } from '../api/metrics';
import { MetricChart } from '../components/metric-chart';
import { DataNotice, PageHeader } from '../components/page';
import { StateBadge } from '../components/state-badge';
import { configDifferences, parseCompareIds } from '../lib/compare';
import { plural } from '../lib/format';
import { isActive } from '../lib/job-list';
import { defaultMetricNames, trainingMetricNames } from '../lib/metrics';

export default function Compare() {
  const [search] = useSearchParams<{ jobs?: string }>();
  const parsed = createMemo(() => parseCompareIds(search.jobs));
  const ids = () => parsed().ids;
  const jobs = createLive({
    key: () => ids().length >= 2 && `compare:${ids().join(',')}`,
    load: () => fetchComparedJobs(ids()),
    persist: false,
  });
  const names = createMemo(() => trainingMetricNames([...new Set((jobs.value() ?? []).flatMap((job) => job.metricNames))]));
  const [picked, setPicked] = createSignal<string | null>(null);
  const metric = createMemo(() => (picked() && names().includes(picked()!) ? picked() : (defaultMetricNames(names())[0] ?? null)));
  const tick = createMetricsTick(() => (jobs.value() ?? []).filter((job) => isActive(job.state)).map((job) => job.id));
  const series = createLive({
    key: () => ids().length >= 2 && metric() && `compare-series:${ids().join(',')}:${metric()}`,
    load: () => fetchComparedSeries(ids(), metric()!),
    persist: false,
    itemKey: 'name',
  });
  refetchOn(tick, series);
  const label = (position: number) => {
    const job = jobs.value()?.[position];
    return job ? `#${job.id} ${job.name}` : `#${ids()[position]}`;
  };
  const differences = createMemo(() => configDifferences(jobs.value() ?? []));

  return (
    <>
      <PageHeader title={`Compare ${plural(ids().length, 'job')}`} back={jobs.value()?.[0] ? { href: `/projects/${jobs.value()![0]!.projectId}`, label: jobs.value()![0]!.project.name } : { href: '/', label: 'Home' }} />
      <Show when={parsed().error}>
        <p class="notice" role="status" data-testid="compare-error">
          {parsed().error}
        </p>
      </Show>
      <DataNotice what="the jobs" loading={jobs.loading()} hasValue={!!jobs.value()} error={jobs.error()} cachedAt={jobs.cachedAt()} onRetry={jobs.refetch} />
      <Show when={jobs.value()}>
        {(value) => (
          <>
            <ul class="compare-jobs" aria-label="Jobs compared">
              <For each={value()}>
                {(job) => (
                  <li data-job-id={job.id}>
                    <StateBadge state={job.state} />{' '}
                    <a href={`/jobs/${job.id}`}>
                      {job.name} <span class="job-id">#{job.id}</span>
                    </a>
                  </li>
                )}
              </For>
            </ul>
            <section class="card" aria-labelledby="compare-curves-title" data-testid="compare-curves">
              <h2 id="compare-curves-title" class="section-title compare-section-title">
                Curves
              </h2>
              <Show when={metric()} fallback={<p class="muted">None of these jobs has written metrics yet.</p>}>
                {(name) => (
                  <>
                    <label class="sweep-metric-picker">
                      <span>Metric</span>
                      <select value={name()} onChange={(event) => setPicked(event.currentTarget.value)} data-testid="compare-metric">
                        <For each={names()}>{(entry) => <option value={entry}>{entry}</option>}</For>
                      </select>
                    </label>
                    <MetricChart title={name()} testId="compare-chart" lines={(series.value() ?? []).map((entry, position) => ({ label: label(position), points: entry.points }))} />
                  </>
                )}
              </Show>
            </section>
            <section class="card spaced-card" aria-labelledby="compare-config-title" data-testid="compare-config">
              <h2 id="compare-config-title" class="section-title compare-section-title">
                What differs
              </h2>
              <Show when={differences().differences.length > 0} fallback={<p>Every setting is the same ({plural(differences().same, 'setting')}).</p>}>
                <div class="metric-table-scroll compare-table-scroll" tabindex="0" role="region" aria-label="Settings that differ">
                  <table class="metric-table compare-table">
                    <thead>
                      <tr>
                        <th scope="col">Setting</th>
                        <For each={value()}>{(job) => <th scope="col">#{job.id}</th>}</For>
                      </tr>
                    </thead>
                    <tbody>
                      <For each={differences().differences}>
                        {(difference) => (
                          <tr data-key={difference.key}>
                            <th scope="row" class="mono">
                              {difference.key}
                            </th>
                            <For each={difference.values}>{(entry) => <td class="mono">{entry ?? <span class="muted">not set</span>}</td>}</For>
                          </tr>
                        )}
                      </For>
                    </tbody>
                  </table>
                </div>
                <p class="muted">
                  {plural(differences().same, 'other setting')} {differences().same === 1 ? 'is' : 'are'} the same in every job.
                </p>
              </Show>
            </section>
          </>
        )}
      </Show>
    </>
  );
}
