// One modal dialog for the whole app (confirmations, action sheets, the script viewer), on the native <dialog>:
// it traps focus, closes on Escape and gives focus back to what opened it.
import { Show, createEffect, createSignal, type JSX } from 'solid-js';

interface Request {
  label: string;
  sheet: boolean;
  render: (close: (value?: unknown) => void) => JSX.Element;
  resolve: (value: unknown) => void;
}

const [current, setCurrent] = createSignal<Request | null>(null);

/** Shows `render`'s content; resolves with what it passes to `close` (undefined when dismissed). */
export function openDialog<T>(label: string, render: (close: (value?: T) => void) => JSX.Element, options: { sheet?: boolean } = {}): Promise<T | undefined> {
  current()?.resolve(undefined);
  return new Promise((resolve) => setCurrent({ label, sheet: options.sheet ?? false, render: render as Request['render'], resolve: resolve as Request['resolve'] }));
}

export function confirmAction(options: { title: string; body: string; confirm: string; danger?: boolean }): Promise<boolean> {
  return openDialog<boolean>(options.title, (close) => (
    <form method="dialog" class="dialog-body" onSubmit={(event) => (event.preventDefault(), close(true))}>
      <h2 class="dialog-title">{options.title}</h2>
      <p>{options.body}</p>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => close(false)}>
          Keep
        </button>
        <button type="submit" class="button" classList={{ danger: options.danger, primary: !options.danger }} autofocus>
          {options.confirm}
        </button>
      </div>
    </form>
  )).then((value) => value === true);
}

export function DialogHost() {
  let dialog!: HTMLDialogElement;
  const finish = (value?: unknown) => {
    const request = current();
    if (!request) return;
    setCurrent(null);
    request.resolve(value);
  };
  createEffect(() => {
    if (current()) {
      if (!dialog.open) dialog.showModal();
    } else if (dialog.open) dialog.close();
  });
  return (
    <dialog
      ref={dialog}
      class="dialog"
      classList={{ sheet: current()?.sheet }}
      aria-label={current()?.label}
      // The close event of a dialog closed for the next request arrives after that request opened it again.
      onClose={() => !dialog.open && finish(undefined)}
      // A tap on the backdrop (the dialog element itself, outside its content) dismisses it.
      onClick={(event) => event.target === dialog && finish(undefined)}
    >
      <Show when={current()}>{(request) => request().render(finish)}</Show>
    </dialog>
  );
}
