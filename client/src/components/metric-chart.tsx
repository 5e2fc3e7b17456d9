// One chart of metric series: uPlot (loaded on first use, so the app's first screen never pays for it) drawing
// lines on a step (or time) axis, NaN and infinities as gaps with a red marker and a note, the values at the tapped
// step in a legend under it, and a table of the same numbers for whoever does not read charts.
import { For, Show, createEffect, createMemo, createSignal, on, onCleanup, onMount } from 'solid-js';
import type uPlot from 'uplot';
import { afterPaint } from '../lib/after-paint';
import { alignSeries, chartSummary, formatMetric, formatStep, nonFiniteNote, type MetricPoint } from '../lib/metrics';
import './metric-chart.css';

export interface ChartLine {
  label: string;
  points: readonly MetricPoint[];
  /** Drawn thicker, in the accent colour, on top (a sweep's best run). */
  emphasis?: boolean;
  /** Drawn thin and grey, left out of the legend and the table (a sweep's other runs). */
  dim?: boolean;
}

export interface MetricChartProps {
  title: string;
  lines: readonly ChartLine[];
  /** `time`: steps are epoch seconds (GPU samples), shown as times of day; `week`: epoch seconds of each week's Monday (UTC), shown as its date. */
  xKind?: 'step' | 'time' | 'week';
  /** Fixed bounds of the value axis (utilisation is 0–100). */
  yRange?: [number, number];
  unit?: string;
  height?: number;
  testId?: string;
}

const PALETTE_SIZE = 6;
const LEGEND_MAX = 8;
const TABLE_ROWS_MAX = 500;

// Made on first use: building Intl formatters is not free, and this module loads with the job screen.
let compactFormat: Intl.NumberFormat | undefined;
let timeFormat: Intl.DateTimeFormat | undefined;
const compact = (value: number) => (compactFormat ??= new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })).format(value);
const timeOfDay = (seconds: number) => (timeFormat ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })).format(new Date(seconds * 1000));
let dayFormat: Intl.DateTimeFormat | undefined;
const dayOf = (seconds: number) => (dayFormat ??= new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })).format(new Date(seconds * 1000));
/** A step as the x axis and the table say it. */
const stepText = (kind: MetricChartProps['xKind'], step: number) => (kind === 'time' ? timeOfDay(step) : kind === 'week' ? dayOf(step) : formatStep(step));

let loading: Promise<typeof uPlot> | null = null;
/** uPlot and its stylesheet, fetched once, when the first chart is drawn. */
const loadUPlot = () => (loading ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([module]) => module.default));

export function MetricChart(props: MetricChartProps) {
  const [showTable, setShowTable] = createSignal(false);
  const [cursorIndex, setCursorIndex] = createSignal<number | null>(null);
  const [failed, setFailed] = createSignal<string | null>(null);
  const aligned = createMemo(() => alignSeries(props.lines));
  const shown = createMemo(() => props.lines.map((line, index) => ({ line, index })).filter(({ line }) => !line.dim));
  const notes = createMemo(() => props.lines.filter((line) => !line.dim).flatMap((line) => nonFiniteNote(line.label, line.points) ?? []));
  const summary = createMemo(() => chartSummary(props.title, shown().map(({ line }) => line)));
  const xText = (x: number) => (props.xKind === 'time' ? timeOfDay(x) : props.xKind === 'week' ? `week of ${dayOf(x)}` : `step ${formatStep(x)}`);
  const valueText = (value: number | null | undefined, at: number, series: number) => {
    if (value === undefined) return '—';
    if (value === null) return aligned().marks.find((mark) => mark.series === series && mark.step === aligned().steps[at])?.kind ?? 'NaN';
    return `${formatMetric(value)}${props.unit ?? ''}`;
  };
  // The legend says the values at the tapped step; with no tap, each line's last value.
  const readout = createMemo(() => {
    const at = cursorIndex();
    const { steps, values } = aligned();
    return shown().map(({ line, index }) => {
      let position = at;
      if (position === null) {
        position = values[index]!.length - 1;
        while (position > 0 && values[index]![position] === undefined) position--;
      }
      return { line, index, text: steps.length ? valueText(values[index]![position], position, index) : '—' };
    });
  });

  let figure!: HTMLElement;
  let plotBox!: HTMLDivElement;
  let plot: uPlot | undefined;
  let drawnShape = '';
  /** The plot box's width as the ResizeObserver last saw it: reading clientWidth would force a layout. */
  let boxWidth = 0;

  const colors = () => {
    const style = getComputedStyle(figure);
    const read = (name: string) => style.getPropertyValue(name).trim();
    return { axis: read('--chart-axis'), grid: read('--chart-grid'), dim: read('--chart-dim'), bad: read('--chart-bad'), palette: Array.from({ length: PALETTE_SIZE }, (_, index) => read(`--chart-${index + 1}`)) };
  };

  const data = (): uPlot.AlignedData => [aligned().steps, ...aligned().values] as unknown as uPlot.AlignedData;

  const build = (UPlot: typeof uPlot) => {
    plot?.destroy();
    const color = colors();
    const series: uPlot.Series[] = [
      {},
      ...props.lines.map((line, index) => ({
        label: line.label,
        stroke: line.dim ? color.dim : color.palette[(line.emphasis ? 0 : swatchOf(props.lines, index)) % PALETTE_SIZE],
        width: line.emphasis ? 3 : line.dim ? 1 : 2,
        points: { show: false },
        spanGaps: false,
      })),
    ];
    const axis = { stroke: color.axis, grid: { stroke: color.grid, width: 1 }, ticks: { stroke: color.grid, width: 1 }, font: '12px system-ui, sans-serif' };
    const options: uPlot.Options = {
      width: Math.max(200, boxWidth || plotBox.clientWidth),
      height: props.height ?? 180,
      legend: { show: false },
      cursor: { points: { size: 7 }, drag: { x: true, y: false } },
      scales: { x: { time: props.xKind === 'time' || props.xKind === 'week' }, y: props.yRange ? { range: props.yRange } : {} },
      series,
      axes: [
        { ...axis, values: props.xKind === 'time' ? (_u, splits) => splits.map(timeOfDay) : props.xKind === 'week' ? (_u, splits) => splits.map(dayOf) : (_u, splits) => splits.map(compact) },
        { ...axis, size: 48, values: (_u, splits) => splits.map((y) => formatMetric(y)) },
      ],
      hooks: {
        // The values stay at the last step pointed at (a finger lifted leaves the chart): the legend says which.
        setCursor: [(u) => u.cursor.idx != null && setCursorIndex(u.cursor.idx)],
        // Where a value was NaN or infinite: a dashed line and a red triangle at the top of the plot.
        draw: [
          (u) => {
            const marks = aligned().marks;
            if (marks.length === 0) return;
            const context = u.ctx;
            const top = u.bbox.top;
            const size = 6 * devicePixelRatio;
            context.save();
            context.strokeStyle = color.bad;
            context.fillStyle = color.bad;
            context.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
            context.lineWidth = devicePixelRatio;
            for (const step of new Set(marks.map((mark) => mark.step))) {
              const x = u.valToPos(step, 'x', true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              context.beginPath();
              context.moveTo(x, top);
              context.lineTo(x, top + u.bbox.height);
              context.stroke();
              context.beginPath();
              context.moveTo(x - size, top);
              context.lineTo(x + size, top);
              context.lineTo(x, top + size * 1.5);
              context.fill();
            }
            context.restore();
          },
        ],
      },
    };
    plot = new UPlot(options, data(), plotBox);
    // A finger on the chart moves the cursor like a mouse would (a tap, or a drag along it); vertical swipes still
    // scroll the page. Listened on the box, whatever part of the chart the finger lands on.
    const follow = (event: PointerEvent | MouseEvent) => {
      if (event.type === 'pointermove' && (event as PointerEvent).pointerType === 'mouse') return;
      if (!plot) return;
      const box = plot.over.getBoundingClientRect();
      const left = event.clientX - box.left;
      if (left < 0 || left > box.width) return;
      plot.setCursor({ left, top: Math.min(Math.max(0, event.clientY - box.top), box.height) });
      const index = plot.posToIdx(left);
      if (index >= 0 && index < aligned().steps.length) setCursorIndex(index);
    };
    plotBox.onpointerdown = follow;
    plotBox.onpointermove = follow;
    plotBox.onclick = follow;
    drawnShape = shape();
  };

  // What needs a new chart rather than new data: the lines' number, labels and roles.
  const shape = () => props.lines.map((line) => `${line.label}|${line.emphasis ? 'e' : ''}${line.dim ? 'd' : ''}`).join('\n') + `|${props.xKind}|${props.yRange}`;

  onMount(() => {
    let UPlot: typeof uPlot | undefined;
    let disposed = false;
    // Drawn after the screen that mounts the chart has been painted (on the Job screen, the job card and its
    // title, the largest paint), and uPlot's evaluation and each chart's build in tasks of their own: fetched,
    // evaluated and built with the job card, they held its paint back behind uPlot's download and one long task
    // (Lighthouse mobile, Job screen: LCP 2.6 s, the title painted after uPlot and the series had arrived).
    afterPaint()
      .then(() => (disposed ? undefined : loadUPlot()))
      .then((loaded) => loaded && afterPaint().then(() => loaded))
      .then(
        (loaded) => {
          if (disposed || !loaded) return;
          UPlot = loaded;
          build(loaded);
        },
        () => setFailed('The chart could not be loaded; the table shows the numbers.'),
      );
    createEffect(
      on(aligned, () => {
        if (!UPlot) return;
        if (shape() !== drawnShape) build(UPlot);
        else plot?.setData(data());
      }),
    );
    const resize = new ResizeObserver(([entry]) => {
      boxWidth = entry!.contentRect.width;
      if (plot && boxWidth > 0) plot.setSize({ width: boxWidth, height: props.height ?? 180 });
    });
    resize.observe(plotBox);
    // Dark mode changes the colours, which uPlot takes only when it is built.
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    const rebuild = () => UPlot && build(UPlot);
    scheme.addEventListener('change', rebuild);
    onCleanup(() => {
      disposed = true;
      resize.disconnect();
      scheme.removeEventListener('change', rebuild);
      plot?.destroy();
    });
  });

  const tableRows = createMemo(() => {
    const { steps } = aligned();
    const rows = steps.map((step, position) => ({ step, position }));
    return rows.length > TABLE_ROWS_MAX ? rows.slice(rows.length - TABLE_ROWS_MAX) : rows;
  });

  return (
    <figure class="metric-chart" ref={figure} data-testid={props.testId} data-points={aligned().steps.length}>
      <figcaption class="metric-chart-head">
        <span class="metric-chart-title">{props.title}</span>
        <button type="button" class="button small metric-chart-toggle" aria-pressed={showTable()} onClick={() => setShowTable((value) => !value)}>
          {showTable() ? 'Chart' : 'Table'}
          <span class="visually-hidden"> of {props.title}</span>
        </button>
      </figcaption>
      <div class="metric-chart-plot" ref={plotBox} role="img" aria-label={summary()} hidden={showTable()} style={{ height: `${props.height ?? 180}px` }} />
      <Show when={failed()}>
        <p class="muted">{failed()}</p>
      </Show>
      <Show when={!showTable()}>
        <ul class="metric-chart-legend" aria-label={`Values of ${props.title}`}>
          <Show when={aligned().steps.length > 0}>
            <li class="metric-chart-at">
              <Show when={cursorIndex() !== null && aligned().steps[cursorIndex()!] !== undefined} fallback="last">
                {xText(aligned().steps[cursorIndex()!]!)}
                <button type="button" class="metric-chart-reset" onClick={() => setCursorIndex(null)} aria-label="Show the last values">
                  ×
                </button>
              </Show>
            </li>
          </Show>
          <For each={readout().slice(0, LEGEND_MAX)}>
            {(entry) => (
              <li data-series={entry.line.label}>
                <span class="metric-chart-swatch" classList={{ emphasis: !!entry.line.emphasis }} style={{ '--swatch': `var(--chart-${entry.line.emphasis ? 1 : (swatchOf(props.lines, entry.index) % PALETTE_SIZE) + 1})` }} aria-hidden="true" />
                <span class="metric-chart-label">{entry.line.label}</span> <strong class="metric-chart-value">{entry.text}</strong>
              </li>
            )}
          </For>
          <Show when={readout().length > LEGEND_MAX}>
            <li class="muted">+{readout().length - LEGEND_MAX} more</li>
          </Show>
        </ul>
      </Show>
      <For each={notes()}>
        {(note) => (
          <p class="metric-chart-note" role="note">
            <span aria-hidden="true">▼ </span>
            {note}
          </p>
        )}
      </For>
      <Show when={showTable()}>
        <div class="metric-table-scroll" tabindex="0" role="region" aria-label={`${props.title} as a table`}>
          <table class="metric-table">
            <caption class="visually-hidden">{summary()}</caption>
            <thead>
              <tr>
                <th scope="col">{props.xKind === 'time' ? 'Time' : props.xKind === 'week' ? 'Week of' : 'Step'}</th>
                <For each={shown()}>{({ line }) => <th scope="col">{line.label}</th>}</For>
              </tr>
            </thead>
            <tbody>
              <For each={tableRows()}>
                {(row) => (
                  <tr>
                    <th scope="row">{stepText(props.xKind, row.step)}</th>
                    <For each={shown()}>{({ index }) => <td>{valueText(aligned().values[index]![row.position], row.position, index)}</td>}</For>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
        <Show when={aligned().steps.length > TABLE_ROWS_MAX}>
          <p class="muted">The last {TABLE_ROWS_MAX} of {aligned().steps.length} steps.</p>
        </Show>
      </Show>
    </figure>
  );
}

/** The palette position the chart gave a line (emphasised lines take the first colour, the others follow). */
function swatchOf(lines: readonly ChartLine[], index: number): number {
  const offset = lines.some((line) => line.emphasis) ? 1 : 0;
  return offset + lines.slice(0, index).filter((line) => !line.dim && !line.emphasis).length;
}
