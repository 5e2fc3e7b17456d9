import { For, createEffect, splitProps, type JSX } from 'solid-js';

export interface Option {
  value: string;
  label: string;
}

/**
 * A <select> whose options may arrive after its value: a plain `value` on the element is applied before reactive
 * options exist and silently falls back to the first one.
 */
export function Select(props: Omit<JSX.SelectHTMLAttributes<HTMLSelectElement>, 'value' | 'onChange'> & { value: string; options: Option[]; onValue: (value: string) => void }) {
  const [local, rest] = splitProps(props, ['value', 'options', 'onValue']);
  let select!: HTMLSelectElement;
  createEffect(() => {
    local.options.length;
    if (select.value !== local.value) select.value = local.value;
  });
  return (
    <select {...rest} ref={select} onChange={(event) => local.onValue(event.currentTarget.value)}>
      <For each={local.options}>
        {(option) => (
          <option value={option.value} selected={option.value === local.value}>
            {option.label}
          </option>
        )}
      </For>
    </select>
  );
}
