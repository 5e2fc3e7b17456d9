import type { SweepState, SweepSummary } from '../api/sweeps';
import { useNow } from '../lib/clock';
import { ago } from '../lib/format';
import { SWEEP_STATE_LABELS, countsText } from '../lib/sweep-table';

const TONE_GLYPH = { ok: '✓', run: '▶', wait: '◷', off: '⊘', bad: '✕' } as const;

/** A sweep's state: a word and a glyph, as a job's badge. */
export function SweepStateBadge(props: { state: SweepState }) {
  const entry = () => SWEEP_STATE_LABELS[props.state];
  return (
    <span class={`badge tone-${entry().tone}`} data-state={props.state}>
      <span aria-hidden="true" class="glyph">
        {TONE_GLYPH[entry().tone]}
      </span>
      <span class="badge-text">{entry().label}</span>
    </span>
  );
}

/** A sweep in a list: one line, whatever its size, opening the sweep's screen. */
export function SweepLine(props: { sweep: SweepSummary; showProject?: string }) {
  const now = useNow();
  return (
    <li class="job-row sweep-line" data-sweep-id={props.sweep.id}>
      <a href={`/sweeps/${props.sweep.id}`} class="job-link">
        <span class="job-line">
          <SweepStateBadge state={props.sweep.state} />
          <span class="job-name">
            {props.sweep.name} <span class="job-id">sweep #{props.sweep.id}</span>
          </span>
        </span>
        <span class="job-meta">
          {props.showProject ? `${props.showProject} · ` : ''}
          <span class="sweep-counts" data-testid="sweep-counts">
            {countsText(props.sweep.counts, props.sweep.size)}
          </span>{' '}
          of {props.sweep.size} · {props.sweep.cluster} · {ago(props.sweep.createdAt, now())}
          {props.sweep.retries > 0 ? ` · ${props.sweep.retries} ${props.sweep.retries === 1 ? 'retry' : 'retries'}` : ''}
        </span>
      </a>
    </li>
  );
}
