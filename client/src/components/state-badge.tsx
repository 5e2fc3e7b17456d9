import type { JobState } from '../api/jobs';
import { stateGlyph, stateLabel, stateTone } from '../lib/format';

/** A job's state: a word and a glyph, so colour is never the only signal. */
export function StateBadge(props: { state: JobState; title?: string }) {
  return (
    <span class={`badge tone-${stateTone(props.state)}`} data-state={props.state} title={props.title}>
      <span aria-hidden="true" class="glyph">
        {stateGlyph(props.state)}
      </span>
      <span class="badge-text">{stateLabel(props.state)}</span>
    </span>
  );
}
