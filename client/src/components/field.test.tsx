import { cleanup, render } from '@solidjs/testing-library';
import { createMemo, createSignal } from 'solid-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Field } from './field';

describe('Field', () => {
  afterEach(cleanup);

  it('keeps its control while the form around it changes, and updates the control’s attributes in place', () => {
    // As the launch form does: every edit makes a new translation, from which each field's error is read.
    const [form, setForm] = createSignal({ seed: '1', other: '' });
    const translation = createMemo(() => ({ errors: form().seed === 'x' ? { seed: 'a whole number' } : ({} as Record<string, string>) }));
    const { container } = render(() => (
      <Field field="seed" label="seed" error={translation().errors.seed ?? null}>
        {(attributes) => <input {...attributes} type="text" value={form().seed} />}
      </Field>
    ));
    const input = container.querySelector('input')!;
    setForm({ seed: '1', other: 'typed elsewhere' });
    // Replaced, the input the user types in would lose its focus and what is typed into it.
    expect(container.querySelector('input')).toBe(input);
    setForm({ seed: 'x', other: '' });
    expect(container.querySelector('input')).toBe(input);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toBe('field-seed-error');
    expect(container.querySelector('#field-seed-error')?.textContent).toBe('a whole number');
  });
});
