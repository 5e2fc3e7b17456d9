// The launch form's sweep parts: the switch beside each parameter and group, the typed sweep overrides, the runs
// the server counted (with the throttle), what the launch waits for ("Run after…"), and a cloned task's own
// overrides.
import { For, Show, createSignal } from 'solid-js';
import { errorMessage } from '../api/client';
import type { DependencyKind, RecentRuns } from '../api/launch';
import { shortSha } from '../lib/format';
import type { Dependency } from '../lib/launch-form';
import { runCount, type LaunchState } from '../lib/launch-state';
import { KIND_LABELS, dependencyKinds } from '../lib/launch-sweep';
import { Field } from './field';
import { Select, type Option } from './select';
import './sweep-field.css';

/** The switch from one value to a sweep of several, and back. */
export function SweepToggle(props: { name: string; on: boolean; onChange: (on: boolean) => void }) {
  return (
    <button type="button" class="sweep-toggle" aria-pressed={props.on} aria-label={`Sweep ${props.name}`} title={props.on ? 'Back to one value' : 'Sweep several values'} onClick={() => props.onChange(!props.on)}>
      {props.on ? 'swept' : 'sweep'}
    </button>
  );
}

/** Sweep overrides the switches cannot say (glob, choice, shuffle…), one a line. */
export function SweepOverridesField(props: { state: LaunchState }) {
  return (
    <details class="param-group" open={props.state.form.sweepOverrides.trim() !== '' || !!props.state.errorFor('sweepOverrides')}>
      <summary>More sweep overrides</summary>
      <Field field="sweepOverrides" label="Sweep overrides, one a line" hint="e.g. model=glob(*), optimizer.lr=choice(0.1,0.01), seed=shuffle(range(5))" error={props.state.errorFor('sweepOverrides')} wide>
        {(attributes) => (
          <textarea {...attributes} rows="2" autocapitalize="off" spellcheck={false} value={props.state.form.sweepOverrides} onInput={(event) => props.state.setForm('sweepOverrides', event.currentTarget.value)} />
        )}
      </Field>
    </details>
  );
}

/** A cloned task's own overrides (its sweep values): shown, editable, removable. */
export function KeptOverrides(props: { state: LaunchState }) {
  return (
    <Show when={props.state.form.overrides.length > 0}>
      <div class="launch-kept-overrides" data-testid="kept-overrides">
        <p class="field-label">Overrides of the cloned run</p>
        <For each={props.state.form.overrides}>
          {(word, index) => (
            <Field field={`overrides.${index()}`} label={`Override ${index() + 1}`} error={props.state.errorFor(`overrides.${index()}`)}>
              {(attributes) => (
                <div class="input-row">
                  <input {...attributes} type="text" class="mono" autocapitalize="off" spellcheck={false} value={word} onInput={(event) => props.state.setOverride(index(), event.currentTarget.value)} />
                  <button type="button" class="icon-button" aria-label={`Remove ${word}`} onClick={() => props.state.removeOverride(index())}>
                    ×
                  </button>
                </div>
              )}
            </Field>
          )}
        </For>
      </div>
    </Show>
  );
}

/** The sweep as the server counted it: how many runs, the throttle, and each run's overrides. */
export function SweepSummary(props: { state: LaunchState }) {
  const preview = () => props.state.current()?.sweep ?? null;
  const shown = () => props.state.runCountShown();
  const defaultThrottle = () => (shown() ? Math.min(shown()!.count, 64) : null);
  return (
    <fieldset class="launch-sweep" data-testid="sweep-summary">
      <legend>Sweep</legend>
      <div class="launch-sweep-head">
        <p id="field-sweep" tabindex="-1" class="launch-sweep-count" aria-live="polite" data-testid="run-count" aria-describedby={props.state.errorFor('sweep') ? 'field-sweep-error' : undefined}>
          <Show when={shown()} fallback={<span class="muted">{props.state.checking() ? 'Counting runs…' : props.state.errorFor('sweep') ? 'Not launchable as it is:' : 'Not counted yet'}</span>}>
            {(runs) => (
              <>
                <strong>{runCount(runs().count)}</strong>
                <Show when={runs().counting}>
                  <span class="muted"> · counting…</span>
                </Show>
              </>
            )}
          </Show>
        </p>
        <Show when={preview()}>{(sweep) => <span class="muted launch-sweep-limit">limit {sweep().limit} · one job array</span>}</Show>
      </div>
      <Show when={props.state.errorFor('sweep')}>
        <p class="field-error" id="field-sweep-error">
          {props.state.errorFor('sweep')}
        </p>
      </Show>
      <Show when={preview() && preview()!.varying.length > 0}>
        <p class="meta launch-sweep-varying">
          varies <span class="mono">{preview()!.varying.join(' × ')}</span>
        </p>
      </Show>
      <div class="form-grid">
        <Field field="throttle" label="At most running at once" hint={defaultThrottle() !== null ? `empty: ${defaultThrottle()} (all runs, at most 64)` : 'empty: all runs, at most 64'} error={props.state.errorFor('throttle')}>
          {(attributes) => (
            <input
              {...attributes}
              type="text"
              inputmode="numeric"
              placeholder={defaultThrottle() !== null ? String(defaultThrottle()) : ''}
              value={props.state.form.throttle}
              onInput={(event) => props.state.setForm('throttle', event.currentTarget.value)}
            />
          )}
        </Field>
      </div>
      <details class="launch-sweep-runs" data-testid="sweep-runs">
        <summary>
          Runs<Show when={preview()}>{(sweep) => <span class="muted">&nbsp;({sweep().count})</span>}</Show>
        </summary>
        <Show when={preview()} fallback={<p class="muted">No valid preview yet.</p>}>
          {(sweep) => (
            <ol class="launch-run-list" start="0">
              <For each={sweep().runs}>
                {(run) => (
                  <li>
                    <span class="launch-run-index">{run.index}</span>
                    <span class="launch-run-overrides mono">
                      <For each={run.overrides}>{(override) => <span class="launch-run-override">{override}</span>}</For>
                    </span>
                  </li>
                )}
              </For>
            </ol>
          )}
        </Show>
      </details>
    </fieldset>
  );
}

type RecentJob = RecentRuns['jobs'][number];
type RecentSweep = RecentRuns['sweeps'][number];

const jobLabel = (job: RecentJob) => `job #${job.id} ${job.name}${job.description ? ` — ${job.description}` : ''} (${job.state.toLowerCase()})`;
const sweepLabel = (sweep: RecentSweep) => `sweep #${sweep.id} ${sweep.name} — ${runCount(sweep.size)} (${sweep.state.toLowerCase().replace(/_/g, ' ')})`;

/** "Run after…": earlier jobs or sweeps of the project this launch waits for, each with how. */
export function RunAfter(props: { state: LaunchState }) {
  const [picked, setPicked] = createSignal('');
  const recent = () => props.state.recentRuns();
  const label = (dependency: Dependency) => {
    if (dependency.sweepId !== null) {
      const sweep = recent()?.sweeps.find((entry) => entry.id === dependency.sweepId);
      return sweep ? sweepLabel(sweep) : `sweep #${dependency.sweepId}`;
    }
    const job = recent()?.jobs.find((entry) => entry.id === dependency.jobId);
    return job ? jobLabel(job) : `job #${dependency.jobId}`;
  };
  const choices = (): Option[] => {
    const runs = recent();
    const chosen = (dependency: Pick<Dependency, 'jobId' | 'sweepId'>) => props.state.form.dependsOn.some((entry) => entry.jobId === dependency.jobId && entry.sweepId === dependency.sweepId);
    const other = (cluster: string) => (cluster !== props.state.form.cluster ? ` · on ${cluster}` : '');
    return [
      { value: '', label: runs ? 'Choose a job or sweep…' : props.state.recentRuns.loading ? 'Loading recent runs…' : 'Choose a job or sweep…' },
      ...(runs?.sweeps ?? []).filter((sweep) => !chosen({ jobId: null, sweepId: sweep.id })).map((sweep) => ({ value: `sweep:${sweep.id}`, label: sweepLabel(sweep) + other(sweep.cluster), group: 'Sweeps' })),
      ...(runs?.jobs ?? []).filter((job) => !chosen({ jobId: job.id, sweepId: null })).map((job) => ({ value: `job:${job.id}`, label: jobLabel(job) + other(job.cluster), group: 'Jobs' })),
    ];
  };
  const add = (value: string) => {
    const match = /^(job|sweep):(\d+)$/.exec(value);
    if (!match) return;
    const id = Number(match[2]);
    props.state.addDependency({ kind: 'AFTEROK', jobId: match[1] === 'job' ? id : null, sweepId: match[1] === 'sweep' ? id : null });
    setPicked('');
  };
  return (
    <details class="param-group run-after" open={props.state.form.dependsOn.length > 0} onToggle={(event) => event.currentTarget.open && props.state.loadRecentRuns()} data-testid="run-after">
      <summary>
        Run after…
        <Show when={props.state.form.dependsOn.length > 0}>
          <span class="muted">&nbsp;({props.state.form.dependsOn.length})</span>
        </Show>
      </summary>
      <ul class="launch-dependencies">
        <For each={props.state.form.dependsOn}>
          {(dependency, index) => (
            <li>
              <Field field={`dependsOn.${index()}`} label={label(dependency)} error={props.state.errorFor(`dependsOn.${index()}`)} wide>
                {(attributes) => (
                  <div class="input-row">
                    <Select
                      {...attributes}
                      value={dependency.kind}
                      options={dependencyKinds(dependency, props.state.sweeping())
                        .concat(dependency.kind === 'AFTERCORR' && !props.state.sweeping() ? ['AFTERCORR'] : [])
                        .map((kind: DependencyKind) => ({ value: kind, label: KIND_LABELS[kind] }))}
                      onValue={(kind) => props.state.setDependencyKind(index(), kind as DependencyKind)}
                    />
                    <button type="button" class="icon-button" aria-label={`Do not wait for ${label(dependency)}`} onClick={() => props.state.removeDependency(index())}>
                      ×
                    </button>
                  </div>
                )}
              </Field>
            </li>
          )}
        </For>
      </ul>
      <Field field="dependsOnNew" label="Wait for" hint="SLURM starts this launch once that job or sweep has ended as chosen" error={props.state.recentRuns.error ? errorMessage(props.state.recentRuns.error) : null} wide>
        {(attributes) => <Select {...attributes} value={picked()} options={choices()} onValue={add} />}
      </Field>
    </details>
  );
}

/** The clone's banner: what it was cloned from, and which commit it runs. */
export function CloneBanner(props: { what: string; originalCommit: string; currentCommit: string | null }) {
  return (
    <div class="notice clone-banner" role="note" data-testid="clone-banner">
      <strong>Clone of {props.what}</strong> with its settings.{' '}
      <Show
        when={props.currentCommit !== null && props.originalCommit !== props.currentCommit}
        fallback={
          <Show when={props.currentCommit !== null}>
            <span>
              Same commit as the original: <span class="mono">{shortSha(props.originalCommit)}</span>.
            </span>
          </Show>
        }
      >
        <span>
          The original ran <span class="mono">{shortSha(props.originalCommit)}</span>; this launch runs the current commit <span class="mono">{shortSha(props.currentCommit!)}</span>.
        </span>
      </Show>
    </div>
  );
}
