// Compare mode of a list of jobs (a project's jobs, a sweep's runs, the lineage tree): a toggle, then a tick box per
// job, and a bar that opens 2 to 6 ticked jobs side by side. One selection and one bar for every list that offers it.
import { Show, createSignal } from 'solid-js';
import { COMPARE_MAX, COMPARE_MIN, compareHref, toggleSelected } from '../lib/compare';
import './compare-picker.css';

export interface CompareSelection {
  active: () => boolean;
  selected: () => number[];
  isSelected: (jobId: number) => boolean;
  toggle: (jobId: number) => void;
  /** Turns compare mode on or off; either way the ticks are cleared. */
  setActive: (active: boolean) => void;
}

export function createCompareSelection(): CompareSelection {
  const [active, setActiveSignal] = createSignal(false);
  const [selected, setSelected] = createSignal<number[]>([]);
  return {
    active,
    selected,
    isSelected: (jobId) => selected().includes(jobId),
    toggle: (jobId) => setSelected((current) => toggleSelected(current, jobId)),
    setActive: (value) => {
      setActiveSignal(value);
      setSelected([]);
    },
  };
}

/** The toggle and, in compare mode, the bar (sticky above the navigation) that opens the ticked jobs. */
export function CompareBar(props: { selection: CompareSelection; noun: 'jobs' | 'runs' }) {
  const count = () => props.selection.selected().length;
  return (
    <>
      <div class="action-bar compare-toggle">
        <button type="button" class="button small" aria-pressed={props.selection.active()} onClick={() => props.selection.setActive(!props.selection.active())} data-testid="compare-mode">
          {props.selection.active() ? 'Done comparing' : `Compare ${props.noun}`}
        </button>
      </div>
      <Show when={props.selection.active()}>
        <div class="compare-bar" role="status">
          <span>{count() < COMPARE_MIN ? `Tick ${COMPARE_MIN} to ${COMPARE_MAX} ${props.noun} to compare` : `${count()} ${props.noun} ticked`}</span>
          <Show when={count() >= COMPARE_MIN}>
            <a class="button small primary" href={compareHref(props.selection.selected())} data-testid="compare-open">
              Compare {count()}
            </a>
          </Show>
        </div>
      </Show>
    </>
  );
}

/** A job's tick box in compare mode: a 44 px target beside the row, its name for screen readers only. */
export function ComparePick(props: { selection: CompareSelection; jobId: number; label: string }) {
  return (
    <Show when={props.selection.active()}>
      <label class="compare-pick">
        <input type="checkbox" class="compare-check" checked={props.selection.isSelected(props.jobId)} onChange={() => props.selection.toggle(props.jobId)} />
        <span class="visually-hidden">{props.label}</span>
      </label>
    </Show>
  );
}
