import { Show, type JSX } from 'solid-js';
import { controlIdForField } from '../lib/launch-form';

interface FieldProps {
  /** The field as the server names it: its control's id and where the server's error about it shows. */
  field: string;
  label: string;
  hint?: string;
  error: string | null;
  wide?: boolean;
  children: (attributes: { id: string; 'aria-invalid': 'true' | undefined; 'aria-describedby': string | undefined }) => JSX.Element;
}

/** A labelled control with its hint and its error (local, or the server's for this field) right under it. */
export function Field(props: FieldProps) {
  const id = () => controlIdForField(props.field);
  const describedBy = () => [props.hint ? `${id()}-hint` : '', props.error ? `${id()}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field" classList={{ wide: props.wide }}>
      <label for={id()}>{props.label}</label>
      {props.children({ id: id(), 'aria-invalid': props.error ? 'true' : undefined, 'aria-describedby': describedBy() })}
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
