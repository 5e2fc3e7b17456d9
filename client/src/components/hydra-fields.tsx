import { For, Show, createSignal } from 'solid-js';
import { isListValued, type HydraConfig, type HydraGroup, type HydraParameter } from '../lib/launch-form';
import { ADDED_SECTION, type LaunchState } from '../lib/launch-state';
import { Field } from './field';
import { Select, type Option } from './select';
import { KeptOverrides, SweepOverridesField, SweepToggle } from './sweep-fields';

/** A group's options for a <select>: those in a sub-folder ("lm/s4") under their folder's heading. */
function groupOptions(group: HydraGroup, offered: boolean): Option[] {
  const none: Option[] = group.required ? [{ value: '', label: 'Choose…' }] : offered ? [{ value: '', label: '(none)' }] : [];
  return [...none, ...group.options.map((option) => ({ value: option, label: option, group: option.includes('/') ? `${option.slice(0, option.lastIndexOf('/'))}/` : undefined }))];
}

/** A group switched to sweep: the options its runs take, ticked. */
function SweptGroupField(props: { state: LaunchState; group: HydraGroup }) {
  const key = () => props.group.overrideKey;
  const ticked = () => props.state.form.sweptGroups[key()] ?? [];
  const toggle = (option: string, on: boolean) => props.state.setSweptGroup(key(), on ? [...ticked(), option] : ticked().filter((entry) => entry !== option));
  return (
    <Field
      field={`groups.${key()}`}
      label={key()}
      hint="sweep: each ticked option is a run (× the other swept keys)"
      required={props.group.required}
      error={props.state.errorFor(`groups.${key()}`)}
      group
      wide
      aside={<SweepToggle name={key()} on onChange={(on) => props.state.sweepGroup(key(), on)} />}
    >
      {(attributes) => (
          <div {...attributes} role="group" aria-labelledby={`${attributes.id}-label`} tabindex="-1" class="choice-list swept">
            <For each={props.group.options}>
              {(option) => (
                <label class="check choice">
                  <input type="checkbox" checked={ticked().includes(option)} onChange={(event) => toggle(option, event.currentTarget.checked)} />
                  <span>{option}</span>
                </label>
              )}
            </For>
          </div>
      )}
    </Field>
  );
}

/** One config group: a select, or checkboxes for a list-valued group (callbacks) whose options are all applied. */
function GroupField(props: { state: LaunchState; group: HydraGroup }) {
  const key = () => props.group.overrideKey;
  const swept = () => key() in props.state.form.sweptGroups;
  return (
    <Show when={swept()} fallback={<ChosenGroupField state={props.state} group={props.group} />}>
      <SweptGroupField state={props.state} group={props.group} />
    </Show>
  );
}

function ChosenGroupField(props: { state: LaunchState; group: HydraGroup }) {
  const key = () => props.group.overrideKey;
  const value = () => props.state.form.groups[key()];
  const hint = () => [props.group.package ? `package @${props.group.package}` : '', isListValued(props.group, value()) ? 'several at once' : ''].filter(Boolean).join(' · ') || undefined;
  const toggle = (option: string, on: boolean) => {
    const current = value();
    const list = Array.isArray(current) ? current : current ? [current] : [];
    void props.state.setGroup(key(), on ? [...list, option] : list.filter((entry) => entry !== option));
  };
  return (
    <Show
      when={isListValued(props.group, value())}
      fallback={
        <Field
          field={`groups.${key()}`}
          label={key()}
          hint={hint()}
          required={props.group.required}
          error={props.state.errorFor(`groups.${key()}`)}
          aside={
            <Show when={props.group.options.length > 1}>
              <SweepToggle name={key()} on={false} onChange={(on) => props.state.sweepGroup(key(), on)} />
            </Show>
          }
        >
          {(attributes) => (
            <Select
              {...attributes}
              value={typeof value() === 'string' ? (value() as string) : ''}
              options={groupOptions(props.group, props.group.optional || props.group.default.length === 0)}
              onValue={(option) => void props.state.setGroup(key(), option)}
            />
          )}
        </Field>
      }
    >
      <Field field={`groups.${key()}`} label={key()} hint={hint()} required={props.group.required} error={props.state.errorFor(`groups.${key()}`)} group wide>
        {(attributes) => (
          <div {...attributes} role="group" aria-labelledby={`${attributes.id}-label`} tabindex="-1" class="choice-list">
            <For each={props.group.options}>
              {(option) => (
                <label class="check choice">
                  <input type="checkbox" checked={(value() as string[]).includes(option)} onChange={(event) => toggle(option, event.currentTarget.checked)} />
                  <span>{option}</span>
                </label>
              )}
            </For>
          </div>
        )}
      </Field>
    </Show>
  );
}

function parameterHint(parameter: HydraParameter, added: boolean): string {
  if (added) return 'added key (+), read as Hydra reads a command line';
  const kind = parameter.required ? '??? in the config' : parameter.type.toLowerCase();
  return `${kind}${parameter.readOnly ? ', computed by the config' : ''}${parameter.source ? ` · ${parameter.source}` : ''}`;
}

/** A parameter switched to sweep: its values as Hydra's sweep syntax. */
function SweptParameterField(props: { state: LaunchState; parameter: HydraParameter }) {
  const path = () => props.parameter.path;
  return (
    <Field
      field={`parameters.${path()}`}
      label={path()}
      hint={`sweep (${props.parameter.type.toLowerCase()}): a list 1,2,3 or range(start, stop, step)`}
      error={props.state.errorFor(`parameters.${path()}`)}
      wide
      aside={<SweepToggle name={path()} on onChange={(on) => props.state.sweepParameter(path(), on)} />}
    >
      {(attributes) => (
          <input
            {...attributes}
            class="swept"
            type="text"
            autocapitalize="off"
            spellcheck={false}
            placeholder="1,2,3 or range(0,1,0.25)"
            value={props.state.form.sweptParameters[path()] ?? ''}
            onInput={(event) => props.state.setSweptParameter(path(), event.currentTarget.value)}
          />
      )}
    </Field>
  );
}

function ParameterField(props: { state: LaunchState; parameter: HydraParameter; added: boolean }) {
  return (
    <Show when={props.parameter.path in props.state.form.sweptParameters} fallback={<SingleParameterField state={props.state} parameter={props.parameter} added={props.added} />}>
      <SweptParameterField state={props.state} parameter={props.parameter} />
    </Show>
  );
}

function SingleParameterField(props: { state: LaunchState; parameter: HydraParameter; added: boolean }) {
  const path = () => props.parameter.path;
  return (
    <Field
      field={`parameters.${path()}`}
      label={path()}
      hint={parameterHint(props.parameter, props.added)}
      required={props.parameter.required}
      error={props.state.errorFor(`parameters.${path()}`)}
      aside={
        <Show when={!props.parameter.readOnly}>
          <SweepToggle name={path()} on={false} onChange={(on) => props.state.sweepParameter(path(), on)} />
        </Show>
      }
    >
      {(attributes) =>
        props.parameter.type === 'BOOL' ? (
          <Select
            {...attributes}
            value={String(props.state.form.parameters[path()] === true)}
            disabled={props.parameter.readOnly}
            options={[
              { value: 'true', label: 'true' },
              { value: 'false', label: 'false' },
            ]}
            onValue={(value) => props.state.setParameter(path(), value === 'true')}
          />
        ) : (
          <div class="input-row">
            <input
              {...attributes}
              type="text"
              inputmode={props.parameter.type === 'INT' ? 'numeric' : props.parameter.type === 'FLOAT' ? 'decimal' : undefined}
              autocapitalize="off"
              spellcheck={false}
              placeholder={props.parameter.required ? 'set a value' : undefined}
              value={String(props.state.form.parameters[path()] ?? '')}
              disabled={props.parameter.readOnly}
              onInput={(event) => props.state.setParameter(path(), event.currentTarget.value)}
            />
            <Show when={props.added}>
              <button type="button" class="icon-button" aria-label={`Remove ${path()}`} onClick={() => props.state.removeParameter(path())}>
                ×
              </button>
            </Show>
          </div>
        )
      }
    </Field>
  );
}

/** `+key=value`: a key the composed config does not have, added on purpose. */
function AddKey(props: { state: LaunchState }) {
  const [path, setPath] = createSignal('');
  const [value, setValue] = createSignal('');
  const [problem, setProblem] = createSignal<string | null>(null);
  const add = () => {
    const refused = props.state.addParameter(path().trim(), value());
    setProblem(refused);
    if (!refused) {
      setPath('');
      setValue('');
    }
  };
  return (
    <details class="param-group">
      <summary>Add a key the config does not have</summary>
      <div class="form-grid">
        <Field field="newKey" label="Key" hint="e.g. trainer.precision; sent as +key=value" error={problem()}>
          {(attributes) => <input {...attributes} type="text" autocapitalize="off" spellcheck={false} value={path()} onInput={(event) => setPath(event.currentTarget.value)} />}
        </Field>
        <Field field="newValue" label="Value" error={null}>
          {(attributes) => <input {...attributes} type="text" autocapitalize="off" spellcheck={false} value={value()} onInput={(event) => setValue(event.currentTarget.value)} />}
        </Field>
      </div>
      <button type="button" class="button small" onClick={add}>
        Add key
      </button>
    </details>
  );
}

/** The launch form's part generated from the project's Hydra config: primary, groups, parameters, overrides. */
export function HydraFields(props: { state: LaunchState; config: HydraConfig }) {
  return (
    <fieldset aria-busy={props.state.hydraLoading()} data-testid="hydra-fields">
      <legend>Hydra config</legend>
      <Show when={props.state.composeError()}>
        <p class="error" role="alert" data-testid="compose-error">
          Could not compose the config with these choices: {props.state.composeError()}
        </p>
      </Show>
      <div class="form-grid">
        <Field field="primary" label="Primary config" error={props.state.errorFor('primary')}>
          {(attributes) => (
            <Select {...attributes} value={props.state.form.primary || props.config.primary} options={props.config.primaries.map((primary) => ({ value: primary, label: primary }))} onValue={(value) => void props.state.changePrimary(value)} />
          )}
        </Field>
        <For each={props.state.groups()}>{(group) => <GroupField state={props.state} group={group} />}</For>
      </div>
      <h2 class="section-title">
        Parameters
        <Show when={props.state.hydraLoading()}>
          <span class="muted"> · updating…</span>
        </Show>
      </h2>
      <Show when={props.state.form.dropped.length > 0}>
        <div class="warning dropped" role="status" data-testid="dropped">
          <span>
            Dropped <span class="mono">{props.state.form.dropped.join(', ')}</span>: the config composed with these choices has no such key, so {props.state.form.dropped.length === 1 ? 'its value is' : 'their values are'} not sent.
          </span>
          <button type="button" class="button small" onClick={() => props.state.dismissDropped()}>
            OK
          </button>
        </div>
      </Show>
      <For each={props.state.sectionNames()}>
        {(name) => {
          const parameters = () => props.state.sectionParameters(name);
          return (
            <details class="param-group" open={name === '' || name === ADDED_SECTION || props.state.groupHasNews(parameters())}>
              <summary>
                {name || 'top level'} <span class="param-source">&nbsp;({parameters().length})</span>
              </summary>
              <div class="form-grid">
                <For each={parameters()}>{(parameter) => <ParameterField state={props.state} parameter={parameter} added={name === ADDED_SECTION} />}</For>
              </div>
            </details>
          );
        }}
      </For>
      <AddKey state={props.state} />
      <Field field="rawOverrides" label="Extra overrides" hint="Hydra syntax, applied last: e.g. +trainer.precision=16 seed=1" error={props.state.errorFor('rawOverrides')} wide>
        {(attributes) => <textarea {...attributes} rows="2" autocapitalize="off" spellcheck={false} value={props.state.form.rawOverrides} onInput={(event) => props.state.setForm('rawOverrides', event.currentTarget.value)} />}
      </Field>
      <KeptOverrides state={props.state} />
      <SweepOverridesField state={props.state} />
    </fieldset>
  );
}
