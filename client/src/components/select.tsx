import { For, createEffect, splitProps, type JSX } from 'solid-js';

export interface Option {
  value: string;
  label: string;
  /** Shown under this heading (an <optgroup>), e.g. the sub-folder a Hydra option lives in. */
  group?: string;
}

/** Options without a heading first, then each heading's options, in the order given. */
function byHeading(options: Option[]): Array<{ heading: string | undefined; options: Option[] }> {
  const sections: Array<{ heading: string | undefined; options: Option[] }> = [];
  for (const option of options) {
    const section = sections.find((entry) => entry.heading === option.group);
    if (section) section.options.push(option);
    else sections.push({ heading: option.group, options: [option] });
  }
  return sections.sort((a, b) => Number(a.heading !== undefined) - Number(b.heading !== undefined));
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
  const item = (option: Option) => (
    <option value={option.value} selected={option.value === local.value}>
      {option.label}
    </option>
  );
  return (
    <select {...rest} ref={select} onChange={(event) => local.onValue(event.currentTarget.value)}>
      <For each={byHeading(local.options)}>{(section) => (section.heading === undefined ? <For each={section.options}>{item}</For> : <optgroup label={section.heading}>
            <For each={section.options}>{item}</For>
          </optgroup>)}</For>
    </select>
  );
}
