// A sweep: what its tasks are doing (a bar of counts), what can be done to it, and a table of its runs that stays
// smooth at a thousand rows (only the rows in view are drawn; every row has the same height).
import { useNavigate, useParams } from '@solidjs/router';
import { For, Index, Show, createEffect, createMemo, createSignal, on, onCleanup, onMount, untrack } from 'solid-js';
import { canChange, errorMessage } from '../api/client';
import { createLive } from '../api/live';
import { createMetricsTick, fetchSweepMetricNames, fetchSweepMetrics, refetchOn } from '../api/metrics';
import { cancelSweep, createSweepLive, relaunchFailedTasks, setSweepThrottle, type SweepDetail, type SweepRun, type SweepSummary } from '../api/sweeps';
import { CompareBar, createCompareSelection } from '../components/compare-picker';
import { confirmAction, openDialog } from '../components/dialog';
import { DataNotice, PageHeader } from '../components/page';
import { StateBadge } from '../components/state-badge';
import { SweepStateBadge } from '../components/sweep-line';
import { SweepMetricChart } from '../components/sweep-metrics';
import { notify } from '../components/toast';
import { useNow } from '../lib/clock';
import { ago, duration, plural, shortSha } from '../lib/format';
import { isActive } from '../lib/job-list';
import { bestRun, betterDirection, defaultMetricNames, formatMetric, runMetricValues, trainingMetricNames, type Direction } from '../lib/metrics';
import { SWEEP_STATE_FILTERS, failedCount, filterCounts, filterLabel, runMatches, shortDuration, sortRuns, summarySegments, taskRuntime, visibleRange, type RunMetric, type SortColumn, type SortOrder, type SweepStateFilter } from '../lib/sweep-table';

/** Every row's height in px (the CSS's --sweep-row): the windowing places rows by it. */
const ROW_HEIGHT = 44;

function SummaryBar(props: { sweep: SweepSummary }) {
  const segments = createMemo(() => summarySegments(props.sweep.counts, props.sweep.size));
  return (
    <div class="sweep-summary" data-testid="sweep-summary">
      <div class="sweep-bar" role="img" aria-label={segments().map((segment) => `${segment.count} ${segment.label}`).join(', ')}>
        <For each={segments()}>{(segment) => <span class={`sweep-bar-segment tone-${segment.tone}`} style={{ width: `${segment.percent}%` }} />}</For>
      </div>
      <ul class="sweep-legend" aria-hidden="true">
        <For each={segments()}>
          {(segment) => (
            <li class={`tone-${segment.tone}`} data-tone={segment.tone}>
              <span class="glyph">{segment.glyph}</span> <strong>{segment.count}</strong> {segment.label}
            </li>
          )}
        </For>
      </ul>
    </div>
  );
}

function SweepActions(props: { sweep: SweepDetail; onChange: (change: Partial<SweepDetail>) => void }) {
  const navigate = useNavigate();
  const [busy, setBusy] = createSignal(false);
  const count = (...states: string[]) => props.sweep.counts.filter((entry) => states.includes(entry.state)).reduce((sum, entry) => sum + entry.count, 0);
  const active = () => props.sweep.counts.some((entry) => entry.count > 0 && isActive(entry.state));
  const pending = () => count('PENDING');
  const failed = () => failedCount(props.sweep.counts);
  const run = async (action: () => Promise<Partial<SweepDetail> | undefined>) => {
    setBusy(true);
    try {
      const changed = await action();
      if (changed) props.onChange(changed);
    } catch (error) {
      notify(errorMessage(error), 'error');
    } finally {
      setBusy(false);
    }
  };
  const cancel = (onlyPending: boolean) =>
    run(async () => {
      const sure = await confirmAction({
        title: onlyPending ? `Cancel the ${plural(pending(), 'pending task')} of ${props.sweep.name}?` : `Cancel all of ${props.sweep.name}?`,
        body: onlyPending ? 'Tasks not started yet are cancelled; running ones finish.' : `SLURM stops every task not ended on ${props.sweep.cluster}; running ones lose their current run. This cannot be undone.`,
        confirm: onlyPending ? 'Cancel pending' : 'Cancel all',
        danger: true,
      });
      if (!sure) return undefined;
      const changed = await cancelSweep(props.sweep.id, onlyPending);
      notify(onlyPending ? 'Pending tasks cancelled' : 'Cancel requested for the sweep');
      return changed;
    });
  const throttle = () =>
    run(async () => {
      const max = await openDialog<number>(`Throttle of ${props.sweep.name}`, (close) => {
        let input!: HTMLInputElement;
        return (
          <form class="dialog-body" onSubmit={(event) => (event.preventDefault(), input.reportValidity() && close(Number(input.value)))}>
            <h2 class="dialog-title">Tasks at once</h2>
            <p>How many of the {props.sweep.size} tasks may run at the same time; tasks not started yet follow the new limit.</p>
            <div class="field">
              <label for="sweep-throttle">At most (1–{props.sweep.size})</label>
              <input ref={input} id="sweep-throttle" type="number" inputmode="numeric" min="1" max={props.sweep.size} step="1" required value={props.sweep.throttle} autofocus />
            </div>
            <div class="dialog-actions">
              <button type="button" class="button" onClick={() => close()}>
                Keep {props.sweep.throttle}
              </button>
              <button type="submit" class="button primary">
                Set
              </button>
            </div>
          </form>
        );
      });
      if (max === undefined || max === props.sweep.throttle) return undefined;
      const changed = await setSweepThrottle(props.sweep.id, max);
      notify(`At most ${plural(changed.throttle, 'task')} at once`);
      return changed;
    });
  const relaunch = () =>
    run(async () => {
      const sure = await confirmAction({
        title: `Relaunch ${plural(failed(), 'failed task')}?`,
        body: `They run again as one new job array on the same commit (${shortSha(props.sweep.commitSha)}), with the same values; their old logs stay.`,
        confirm: 'Relaunch',
      });
      if (!sure) return undefined;
      const changed = await relaunchFailedTasks(props.sweep.id);
      notify(`Relaunched ${plural(failed(), 'failed task')}`);
      return changed;
    });

  return (
    <Show when={canChange()}>
      <div class="action-bar" data-testid="sweep-actions">
        <Show when={active()}>
          <button type="button" class="button danger" disabled={busy()} onClick={() => cancel(false)}>
            Cancel all
          </button>
        </Show>
        <Show when={pending() > 0}>
          <button type="button" class="button" disabled={busy()} onClick={() => cancel(true)}>
            Cancel pending ({pending()})
          </button>
        </Show>
        <Show when={active()}>
          <button type="button" class="button" disabled={busy()} onClick={throttle}>
            Throttle: {props.sweep.throttle}
          </button>
        </Show>
        <Show when={failed() > 0}>
          <button type="button" class="button primary" disabled={busy()} onClick={relaunch}>
            Relaunch failed ({failed()})
          </button>
        </Show>
        <button type="button" class="button" onClick={() => navigate(`/projects/${props.sweep.projectId}/launch?sweep=${props.sweep.id}`)}>
          Clone
        </button>
      </div>
    </Show>
  );
}

/** A key as a header that may wrap after `_` and `.` (exit_code, optimizer.lr), not inside a word. */
const breakable = (text: string) => text.split(/(?<=[_.])/).flatMap((part, index) => (index === 0 ? [part] : [<wbr />, part]));

const COLUMN_LABELS: Record<string, string> = { index: '#', state: 'State', runtime: 'Time', exit: 'Exit', last: 'Last', best: 'Best' };

/** The chosen metric as the table shows it: each run's last and best values, and which run is the best. */
interface TableMetric {
  name: string;
  direction: Direction;
  values: Map<number, RunMetric>;
  best: number | null;
}

function RunsTable(props: { sweep: SweepDetail; metric: TableMetric | null; metricPicks: number }) {
  const now = useNow(1000);
  const [filter, setFilter] = createSignal<SweepStateFilter>('all');
  const [order, setOrder] = createSignal<SortOrder>({ column: 'index', descending: false });
  const counts = createMemo(() => filterCounts(props.sweep.runs));
  // Sorted once per change of the runs or the order, not on every tick of the clock (a running task's runtime
  // moves, but rows jumping under a finger every second would be worse).
  const shown = createMemo(() => sortRuns(props.sweep.runs.filter((run) => runMatches(run, filter())), order(), untrack(now), (run) => props.metric?.values.get(run.index)));
  // The metric's columns right after the run's values: on a phone they are what the table is read for.
  const columns = (): SortColumn[] => ['index', ...props.sweep.varying.map((_, position) => `value:${position}` as const), ...(props.metric ? (['last', 'best'] as const) : []), 'state', 'runtime', 'exit'];
  const label = (column: SortColumn) => COLUMN_LABELS[column] ?? props.sweep.varying[Number(column.slice('value:'.length))]!;
  // A metric's column sorts best first on its first tap: highest first when higher is better.
  const firstDescending = (column: SortColumn) => (column === 'last' || column === 'best') && props.metric?.direction === 'max';
  const sortBy = (column: SortColumn) => setOrder((current) => ({ column, descending: current.column === column ? !current.descending : firstDescending(column) }));
  // A metric the user picks sorts the table by it, best first (the default one leaves the order as it is).
  createEffect(on(() => props.metricPicks, () => props.metric && setOrder({ column: 'best', descending: props.metric.direction === 'max' }), { defer: true }));
  createEffect(on(() => props.metric?.direction, (direction) => direction && untrack(order).column === 'best' && setOrder({ column: 'best', descending: direction === 'max' }), { defer: true }));

  // Compare mode: rows get a tick box; 2 to 6 ticked runs open side by side.
  const selection = createCompareSelection();

  let body!: HTMLDivElement;
  const [range, setRange] = createSignal({ start: 0, end: 0 });
  const measure = () => setRange(visibleRange({ listTop: body.getBoundingClientRect().top, viewportHeight: window.innerHeight, rowHeight: ROW_HEIGHT, count: shown().length }));
  let frame = 0;
  const onScroll = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      measure();
    });
  };
  onMount(() => {
    // Before the first paint: a first frame with no rows would be a flash of an empty table.
    setRange(visibleRange({ listTop: body.getBoundingClientRect().top, viewportHeight: window.innerHeight, rowHeight: ROW_HEIGHT, count: shown().length }));
    window.addEventListener('scroll', onScroll, { passive: true });
    window.addEventListener('resize', onScroll, { passive: true });
    // What is above the table (the metrics chart) can grow without a scroll: measure again when the page's size changes.
    layout.observe(document.body);
  });
  const layout = new ResizeObserver(onScroll);
  onCleanup(() => {
    layout.disconnect();
    cancelAnimationFrame(frame);
    window.removeEventListener('scroll', onScroll);
    window.removeEventListener('resize', onScroll);
  });
  createEffect(on(() => shown().length, () => measure(), { defer: true }));
  const visible = createMemo(() => shown().slice(range().start, range().end));

  return (
    <section aria-labelledby="runs-title" class="sweep-runs">
      <h2 id="runs-title" class="section-title">
        Runs
      </h2>
      <div class="chips" role="group" aria-label="Show runs by state">
        <For each={SWEEP_STATE_FILTERS.filter((entry) => entry === 'all' || counts()[entry] > 0 || filter() === entry)}>
          {(entry) => (
            <button type="button" class="chip" aria-pressed={filter() === entry} data-filter={entry} onClick={() => setFilter(entry)}>
              {filterLabel(entry)} <span class="chip-count">{counts()[entry]}</span>
            </button>
          )}
        </For>
      </div>
      <CompareBar selection={selection} noun="runs" />
      <div class="sweep-table-scroll">
        <div
          class="sweep-table"
          role="table"
          aria-label={`Runs of ${props.sweep.name}`}
          aria-rowcount={shown().length + 1}
          data-testid="sweep-table"
          style={{ '--sweep-columns': `var(--index-column) ${'minmax(var(--value-column), 1fr) '.repeat(props.sweep.varying.length)}${props.metric ? 'var(--metric-column) var(--metric-column) ' : ''}var(--state-column) var(--runtime-column) var(--exit-column)`, '--sweep-row': `${ROW_HEIGHT}px` }}
        >
          <div class="sweep-row sweep-head" role="row" aria-rowindex={1}>
            <For each={columns()}>
              {(column) => (
                <div
                  role="columnheader"
                  class={`sweep-cell cell-${column.startsWith('value:') ? 'value' : column}`}
                  aria-sort={order().column === column ? (order().descending ? 'descending' : 'ascending') : 'none'}
                >
                  <button type="button" class="sort-button" onClick={() => sortBy(column)} title={`Sort by ${label(column)}${column === 'last' || column === 'best' ? ` ${props.metric?.name}` : ''}`}>
                    <span class="sort-label">{breakable(label(column))}</span>
                    <span aria-hidden="true" class="sort-mark">
                      {order().column === column ? (order().descending ? '▼' : '▲') : ''}
                    </span>
                  </button>
                </div>
              )}
            </For>
          </div>
          <div class="sweep-body" role="rowgroup" ref={body} style={{ height: `${shown().length * ROW_HEIGHT}px` }}>
            <div class="sweep-window" style={{ transform: `translateY(${range().start * ROW_HEIGHT}px)` }}>
              {/* Index, not For: a scroll shifts which run each drawn row shows; the rows themselves stay. */}
              <Index each={visible()}>
                {(run, position) => (
                  <RunRow
                    run={run()}
                    rowIndex={range().start + position + 2}
                    now={now()}
                    metric={props.metric ? (props.metric.values.get(run().index) ?? { last: null, best: null }) : null}
                    best={props.metric?.best === run().index}
                    selecting={selection.active()}
                    selected={!!run().task && selection.isSelected(run().task!.id)}
                    onSelect={selection.toggle}
                  />
                )}
              </Index>
            </div>
          </div>
        </div>
      </div>
      <Show when={shown().length === 0}>
        <p class="muted">No run is {filterLabel(filter()).toLowerCase()}.</p>
      </Show>
    </section>
  );
}

function RunRow(props: { run: SweepRun; rowIndex: number; now: number; metric: RunMetric | null; best: boolean; selecting: boolean; selected: boolean; onSelect: (taskId: number) => void }) {
  const task = () => props.run.task;
  const runtime = () => taskRuntime(task(), props.now);
  return (
    <div class="sweep-row" role="row" aria-rowindex={props.rowIndex} data-index={props.run.index} data-state={task()?.state ?? 'SUBMITTING'} data-best={props.best ? '' : undefined}>
      <div role="cell" class="sweep-cell cell-index">
        <Show when={task()} fallback={<span>{props.run.index}</span>}>
          {(value) => (
            <Show
              when={props.selecting}
              fallback={
                <a href={`/jobs/${value().id}`} class="row-link" aria-label={`Run ${props.run.index}: task ${value().id}${props.best ? ' (best)' : ''}`}>
                  {props.run.index}
                </a>
              }
            >
              <input type="checkbox" class="compare-check" checked={props.selected} onChange={() => props.onSelect(value().id)} aria-label={`Compare run ${props.run.index}`} />
            </Show>
          )}
        </Show>
      </div>
      <Index each={props.run.values}>
        {(value) => (
          <div role="cell" class="sweep-cell cell-value mono" title={value()}>
            {value()}
          </div>
        )}
      </Index>
      <Show when={props.metric}>
        {(metric) => (
          <>
            <div role="cell" class="sweep-cell cell-last">{formatMetric(metric().last)}</div>
            <div role="cell" class="sweep-cell cell-best">{formatMetric(metric().best)}</div>
          </>
        )}
      </Show>
      <div role="cell" class="sweep-cell cell-state">
        <Show when={task()} fallback={<span class="muted">not stored</span>}>
          {(value) => <StateBadge state={value().state} title={value().reason ?? undefined} />}
        </Show>
      </div>
      <div role="cell" class="sweep-cell cell-runtime" title={runtime() === null ? undefined : duration(runtime())}>
        {runtime() === null ? '—' : shortDuration(runtime()!)}
      </div>
      <div role="cell" class="sweep-cell cell-exit" classList={{ 'exit-bad': (task()?.exitCode ?? 0) !== 0 }}>
        {task()?.exitCode ?? '—'}
      </div>
    </div>
  );
}

export default function Sweep() {
  const params = useParams<{ id: string }>();
  const id = () => (/^\d+$/.test(params.id) ? Number(params.id) : null);
  const sweep = createSweepLive(id);
  const change = (changed: Partial<SweepDetail>) => sweep.mutate((current) => ({ ...current, ...changed }));

  // Metrics: names from a few started tasks, one metric of every task, read again as running tasks write points.
  const startedTasks = createMemo(() =>
    (sweep.value()?.runs ?? [])
      .flatMap((run) => (run.task?.startedAt ? [run.task.id] : []))
      .slice(0, 3)
      .join(','),
  );
  const activeTasks = createMemo(() => (sweep.value()?.runs ?? []).flatMap((run) => (run.task && isActive(run.task.state) ? [run.task.id] : [])));
  const tick = createMetricsTick(activeTasks);
  const names = createLive({
    key: () => id() !== null && startedTasks() && `sweep-metric-names:${id()}:${startedTasks()}`,
    load: () => fetchSweepMetricNames(startedTasks().split(',').map(Number)),
    persist: false,
  });
  refetchOn(tick, names);
  const metricNames = createMemo(() => trainingMetricNames(names.value() ?? []));
  const [picked, setPicked] = createSignal<string | null>(null);
  const [metricPicks, setMetricPicks] = createSignal(0);
  const pick = (name: string) => {
    setPicked(name);
    setMetricPicks((count) => count + 1);
  };
  const metric = createMemo(() => (picked() && metricNames().includes(picked()!) ? picked() : (defaultMetricNames(metricNames())[0] ?? null)));
  const [directionPicked, setDirectionPicked] = createSignal<{ metric: string; direction: Direction } | null>(null);
  const direction = (): Direction => (directionPicked()?.metric === metric() ? directionPicked()!.direction : betterDirection(metric() ?? ''));
  const series = createLive({
    key: () => id() !== null && metric() && `sweep-metrics:${id()}:${metric()}`,
    load: () => fetchSweepMetrics(id()!, metric()!),
    persist: false,
    itemKey: 'index',
  });
  refetchOn(tick, series);
  const best = createMemo(() => bestRun((series.value() ?? []).map((entry) => ({ index: entry.index, points: entry.series.points })), direction()));
  const tableMetric = createMemo((): TableMetric | null => {
    const name = metric();
    if (!name || !series.value()) return null;
    return { name, direction: direction(), best: best(), values: runMetricValues(series.value()!.map((entry) => ({ index: entry.index, points: entry.series.points })), direction()) };
  });
  const runLabel = (index: number) => {
    const run = sweep.value()?.runs.find((entry) => entry.index === index);
    const values = run ? sweep.value()!.varying.map((key, position) => `${key}=${run.values[position]}`).join(' ') : '';
    return `#${index}${values ? ` ${values}` : ''}`;
  };

  return (
    <>
      <PageHeader
        title={sweep.value() ? `${sweep.value()!.name} sweep #${sweep.value()!.id}` : `Sweep ${params.id}`}
        back={sweep.value() ? { href: `/projects/${sweep.value()!.projectId}`, label: sweep.value()!.project.name } : { href: '/', label: 'Home' }}
      >
        <Show when={sweep.value()}>{(value) => <SweepStateBadge state={value().state} />}</Show>
      </PageHeader>
      <DataNotice what="the sweep" loading={sweep.loading()} hasValue={!!sweep.value()} error={sweep.error()} cachedAt={sweep.cachedAt()} onRetry={sweep.refetch} />
      <Show when={sweep.value()}>
        {(value) => (
          <>
            <section class="card" aria-label="Summary">
              <SummaryBar sweep={value()} />
              <dl class="facts sweep-facts">
                <dt>Runs</dt>
                <dd data-testid="sweep-size">
                  {value().size} · at most {value().throttle} at once
                </dd>
                <dt>Retries</dt>
                <dd data-testid="sweep-retries">{value().retries}</dd>
                <dt>Sweep</dt>
                <dd class="mono">{value().definition.join(' ')}</dd>
                <dt>Cluster</dt>
                <dd>
                  {value().cluster}
                  {value().arrayJobId ? ` · array ${value().arrayJobId}` : ''}
                </dd>
                <dt>Commit</dt>
                <dd class="mono">{shortSha(value().commitSha)}</dd>
                <dt>Started</dt>
                <dd>
                  {ago(value().createdAt)}
                  {value().endedAt ? ` · ended ${ago(value().endedAt)}` : ''}
                </dd>
              </dl>
            </section>
            <SweepActions sweep={value()} onChange={change} />
            <Show when={metric()}>
              {(name) => (
                <SweepMetricChart
                  metric={name()}
                  names={metricNames()}
                  onMetric={pick}
                  direction={direction()}
                  onDirection={(chosen) => setDirectionPicked({ metric: name(), direction: chosen })}
                  series={series.value() ?? []}
                  best={best()}
                  runLabel={runLabel}
                />
              )}
            </Show>
            <RunsTable sweep={value()} metric={tableMetric()} metricPicks={metricPicks()} />
          </>
        )}
      </Show>
    </>
  );
}
