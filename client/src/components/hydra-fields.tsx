import { For } from 'solid-js';
import type { HydraConfig } from '../lib/launch-form';
import type { LaunchState } from '../lib/launch-state';
import { Field } from './field';
import { Select } from './select';

/** The launch form's part generated from the project's Hydra config: primary, groups, parameters, overrides. */
export function HydraFields(props: { state: LaunchState; config: HydraConfig }) {
  return (
    <fieldset aria-busy={props.state.hydraLoading()}>
      <legend>Hydra config</legend>
      <div class="form-grid">
        <Field field="primary" label="Primary config" error={props.state.errorFor('primary')}>
          {(attributes) => (
            <Select {...attributes} value={props.state.form.primary || props.config.primary} options={props.config.primaries.map((primary) => ({ value: primary, label: primary }))} onValue={(value) => void props.state.changePrimary(value)} />
          )}
        </Field>
        <For each={props.config.groups}>
          {(group) => (
            <Field field={`groups.${group.path}`} label={group.path} hint={group.package ? `package @${group.package}` : undefined} error={props.state.errorFor(`groups.${group.path}`)}>
              {(attributes) => (
                <Select
                  {...attributes}
                  value={props.state.form.groups[group.path] ?? ''}
                  options={[...(group.optional || group.default.length === 0 ? [{ value: '', label: '(none)' }] : []), ...group.options.map((option) => ({ value: option, label: option }))]}
                  onValue={(value) => props.state.setGroup(group.path, value)}
                />
              )}
            </Field>
          )}
        </For>
      </div>
      <h2 class="section-title">Parameters</h2>
      <For each={props.state.parameterGroups()}>
        {([name, parameters]) => (
          <details class="param-group" open={name === '' || props.state.groupHasNews(parameters)}>
            <summary>
              {name || 'top level'} <span class="param-source">&nbsp;({parameters.length})</span>
            </summary>
            <div class="form-grid">
              <For each={parameters}>
                {(parameter) => (
                  <Field
                    field={`parameters.${parameter.path}`}
                    label={parameter.path}
                    hint={`${parameter.type.toLowerCase()}${parameter.readOnly ? ', computed by the config' : ''}${parameter.source ? ` · ${parameter.source}` : ''}`}
                    error={props.state.errorFor(`parameters.${parameter.path}`)}
                  >
                    {(attributes) =>
                      parameter.type === 'BOOL' ? (
                        <Select
                          {...attributes}
                          value={String(props.state.form.parameters[parameter.path] === true)}
                          disabled={parameter.readOnly}
                          options={[
                            { value: 'true', label: 'true' },
                            { value: 'false', label: 'false' },
                          ]}
                          onValue={(value) => props.state.setParameter(parameter.path, value === 'true')}
                        />
                      ) : (
                        <input
                          {...attributes}
                          type="text"
                          inputmode={parameter.type === 'INT' ? 'numeric' : parameter.type === 'FLOAT' ? 'decimal' : undefined}
                          autocapitalize="off"
                          spellcheck={false}
                          value={String(props.state.form.parameters[parameter.path] ?? '')}
                          disabled={parameter.readOnly}
                          onInput={(event) => props.state.setParameter(parameter.path, event.currentTarget.value)}
                        />
                      )
                    }
                  </Field>
                )}
              </For>
            </div>
          </details>
        )}
      </For>
      <Field field="rawOverrides" label="Extra overrides" hint="Hydra syntax, applied last: e.g. +trainer.precision=16 seed=1" error={props.state.errorFor('rawOverrides')} wide>
        {(attributes) => <textarea {...attributes} rows="2" autocapitalize="off" spellcheck={false} value={props.state.form.rawOverrides} onInput={(event) => props.state.setForm('rawOverrides', event.currentTarget.value)} />}
      </Field>
    </fieldset>
  );
}
