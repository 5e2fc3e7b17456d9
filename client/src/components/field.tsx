import { Show, untrack, type JSX } from 'solid-js';
import { controlIdForField } from '../lib/launch-form';

interface FieldProps {
  /** The field as the server names it: its control's id and where the server's error about it shows. */
  field: string;
  label: string;
  hint?: string;
  error: string | null;
  wide?: boolean;
  /** Must be set before a launch (`???` in a Hydra config): marked beside the label and on the control. */
  required?: boolean;
  /** Several controls (checkboxes) under one name: the label names the group instead of one control. */
  group?: boolean;
  /** A small control beside the label (the launch form's sweep switch), out of the control's width. */
  aside?: JSX.Element;
  children: (attributes: { id: string; 'aria-invalid': 'true' | undefined; 'aria-describedby': string | undefined; 'aria-required': 'true' | undefined }) => JSX.Element;
}

/** A labelled control with its hint and its error (local, or the server's for this field) right under it. */
export function Field(props: FieldProps) {
  const id = () => controlIdForField(props.field);
  const describedBy = () => [props.hint ? `${id()}-hint` : '', props.error ? `${id()}-error` : ''].filter(Boolean).join(' ') || undefined;
  const label = () => (
    <>
      {props.label}
      <Show when={props.required}>
        <span class="required-mark"> required</span>
      </Show>
    </>
  );
  // Getters, read where the control spreads them: the control is made once and its attributes follow the error.
  // Made inside a tracked scope, it would be rebuilt on every change of the form the error is read from, and
  // whatever the user was typing into the old element (its focus, an input event on its way) lost with it.
  const heading = () => (
    <Show when={props.group} fallback={<label for={id()}>{label()}</label>}>
      <span class="field-label" id={`${id()}-label`}>
        {label()}
      </span>
    </Show>
  );
  const attributes = {
    get id() {
      return id();
    },
    get 'aria-invalid'() {
      return props.error ? ('true' as const) : undefined;
    },
    get 'aria-describedby'() {
      return describedBy();
    },
    get 'aria-required'() {
      return props.required ? ('true' as const) : undefined;
    },
  };
  return (
    <div class="field" classList={{ wide: props.wide }}>
      <Show when={props.aside} fallback={heading()}>
        <div class="field-head">
          {heading()}
          {props.aside}
        </div>
      </Show>
      {untrack(() => props.children(attributes))}
      <Show when={props.hint}>
        <span class="field-hint" id={`${id()}-hint`}>
          {props.hint}
        </span>
      </Show>
      <Show when={props.error}>
        <p class="field-error" id={`${id()}-error`}>
          {props.error}
        </p>
      </Show>
    </div>
  );
}
