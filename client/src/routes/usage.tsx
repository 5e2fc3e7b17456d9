// Usage: GPU-hours per week, how jobs ended, and how long they waited in the queue by cluster, partition and GPU type
// (the number to choose where to launch), from our jobs and those launched elsewhere that the daily sacct read found.
import { useSearchParams } from '@solidjs/router';
import { For, Show, type JSX } from 'solid-js';
import { createUsageLive, type QueueWait, type UsageGroupBy } from '../api/usage';
import { MetricChart } from '../components/metric-chart';
import { DataNotice, PageHeader } from '../components/page';
import { Select } from '../components/select';
import { ago, plural } from '../lib/format';
import { gpuHourLines, gpuTypeLabel, groupLabel, outcomeLabel, outcomeLines, outcomeTotals, waitDuration, waitSentence } from '../lib/usage';
import './usage.css';

const RANGES = [
  { value: '4', label: 'Last 4 weeks' },
  { value: '12', label: 'Last 12 weeks' },
  { value: '26', label: 'Last 26 weeks' },
  { value: '52', label: 'Last 52 weeks' },
];
const GROUPS: Array<{ value: UsageGroupBy; label: string }> = [
  { value: 'CLUSTER', label: 'Cluster' },
  { value: 'PROJECT', label: 'Project' },
  { value: 'GPU_TYPE', label: 'GPU type' },
];

function UsageCard(props: { id: string; title: string; children: JSX.Element }) {
  return (
    <section class="card" aria-labelledby={props.id}>
      <header class="card-head">
        <h2 id={props.id}>{props.title}</h2>
      </header>
      {props.children}
    </section>
  );
}

function WaitCell(props: { stats: QueueWait['last7Days'] }) {
  return (
    <Show when={props.stats} fallback={<span class="muted">—</span>}>
      {(stats) => (
        <>
          {waitDuration(stats().medianSeconds)}
          {/* No-break spaces: a narrow column breaks the line at the dot only. */}
          <span class="wait-detail">
            {`p90\u00a0${waitDuration(stats().p90Seconds)}`} · {plural(stats().jobs, 'job').replaceAll(' ', '\u00a0')}
          </span>
        </>
      )}
    </Show>
  );
}

function WaitTable(props: { waits: QueueWait[] }) {
  const where = (wait: QueueWait) => (wait.partition === null && wait.gpuType === null ? 'all jobs' : `${wait.partition ?? 'any partition'} · ${gpuTypeLabel(wait.gpuType)}`);
  // Each cluster's own line first, then its partitions and GPU types; the across-partition GPU lines are the sentences'.
  const rows = () => props.waits.filter((wait) => (wait.partition === null) === (wait.gpuType === null)).sort((a, b) => a.cluster.localeCompare(b.cluster) || Number(a.partition !== null) - Number(b.partition !== null));
  return (
    <table class="wait-table" data-testid="wait-table">
      <caption class="visually-hidden">Median queue wait (start − submit), its 90th percentile and how many jobs started, this week and in 30 days</caption>
      <colgroup>
        <col class="wait-where" />
        <col />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">Where</th>
          <th scope="col">Median, 7 days</th>
          <th scope="col">Median, 30 days</th>
        </tr>
      </thead>
      <tbody>
        <For each={rows()}>
          {(wait) => (
            <tr classList={{ 'wait-rollup': wait.partition === null }} data-cluster={wait.cluster} data-partition={wait.partition ?? ''} data-gpu-type={wait.gpuType ?? ''}>
              <th scope="row">
                <span class="wait-where-cluster">{wait.cluster}</span> {where(wait)}
              </th>
              <td>
                <WaitCell stats={wait.last7Days} />
              </td>
              <td>
                <WaitCell stats={wait.last30Days} />
              </td>
            </tr>
          )}
        </For>
      </tbody>
    </table>
  );
}

export default function UsageScreen() {
  const [search, setSearch] = useSearchParams<{ weeks?: string; by?: string }>();
  const weeks = () => (RANGES.some((range) => range.value === search.weeks) ? Number(search.weeks) : 12);
  const groupBy = (): UsageGroupBy => GROUPS.find((group) => group.value === search.by)?.value ?? 'CLUSTER';
  const usage = createUsageLive(weeks, groupBy);
  const sentences = () => (usage.value()?.waits ?? []).filter((wait) => wait.partition === null && wait.gpuType !== null && wait.gpuType !== 'none').flatMap((wait) => waitSentence(wait) ?? []);

  return (
    <>
      <PageHeader title="Usage" />
      <form class="filters" aria-label="Usage range and grouping" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="usage-range">Range</label>
          <Select id="usage-range" value={String(weeks())} options={RANGES} onValue={(value) => setSearch({ weeks: value }, { replace: true })} />
        </div>
        <div class="field">
          <label for="usage-group">Group by</label>
          <Select id="usage-group" value={groupBy()} options={GROUPS} onValue={(value) => setSearch({ by: value }, { replace: true })} />
        </div>
      </form>
      <DataNotice what="usage" loading={usage.loading()} hasValue={!!usage.value()} error={usage.error()} cachedAt={usage.cachedAt()} onRetry={usage.refetch} />
      <Show when={usage.value()}>
        {(value) => (
          <div class="usage-cards">
            <UsageCard id="usage-waits" title="Queue waits">
              <Show when={value().waits.length > 0} fallback={<p class="muted">No job started in the last 30 days.</p>}>
                <ul class="usage-sentences" data-testid="wait-sentences">
                  <For each={sentences()}>{(sentence) => <li>{sentence}</li>}</For>
                </ul>
                <WaitTable waits={value().waits} />
              </Show>
            </UsageCard>
            <UsageCard id="usage-gpu-hours" title="GPU-hours">
              <Show when={gpuHourLines(value()).length > 0} fallback={<p class="muted">No GPU job ran in this range.</p>}>
                <MetricChart title={`Per week, by ${GROUPS.find((group) => group.value === value().groupBy)!.label.toLowerCase()}`} lines={gpuHourLines(value())} xKind="week" unit=" GPU-h" testId="gpu-hours-chart" />
              </Show>
              <ul class="usage-totals" data-testid="usage-groups">
                <For each={value().groups}>
                  {(group) => (
                    <li>
                      <strong>{groupLabel(value(), group)}</strong>: {group.gpuHours.toFixed(1)} GPU-h
                      <Show when={group.successRate !== null}>
                        {' '}
                        · {Math.round(group.successRate! * 100)} % of {plural(group.ended, 'job')} completed
                      </Show>
                    </li>
                  )}
                </For>
              </ul>
            </UsageCard>
            <UsageCard id="usage-outcomes" title="How jobs ended">
              <Show when={outcomeLines(value()).length > 0} fallback={<p class="muted">No job ended in this range.</p>}>
                <MetricChart title="Per week, by outcome" lines={outcomeLines(value())} xKind="week" testId="outcomes-chart" />
                <ul class="usage-inline" aria-label="Jobs ended in the range, by outcome" data-testid="outcome-totals">
                  <For each={outcomeTotals(value())}>
                    {(total) => (
                      <li>
                        {outcomeLabel(total.state)}: <strong>{total.jobs}</strong>
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
            </UsageCard>
            <UsageCard id="usage-elsewhere" title="Jobs launched elsewhere">
              <p class="muted">Read once a day from each cluster's accounting (sacct) and counted above; a job launched here is counted once.</p>
              <ul class="usage-totals">
                <For each={value().sacctReads} fallback={<li class="muted">Not read yet.</li>}>
                  {(read) => (
                    <li>
                      <strong>{read.cluster}</strong>: {read.readAt ? `read ${ago(read.readAt)}, ${plural(read.jobs, 'job')}` : 'never read'}
                      <Show when={read.error}>
                        <span class="field-error"> · last attempt failed: {read.error}</span>
                      </Show>
                    </li>
                  )}
                </For>
              </ul>
            </UsageCard>
          </div>
        )}
      </Show>
    </>
  );
}
