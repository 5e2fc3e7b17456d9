// Short messages about what just happened (cancelled, archived, copied, or why it failed), read out by screen
// readers through a live region.
import { For, createSignal } from 'solid-js';

interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

const [toasts, setToasts] = createSignal<Toast[]>([]);
let nextId = 1;

export function notify(text: string, tone: Toast['tone'] = 'info'): void {
  const id = nextId++;
  setToasts((list) => [...list.slice(-2), { id, text, tone }]);
  setTimeout(() => setToasts((list) => list.filter((toast) => toast.id !== id)), tone === 'error' ? 8000 : 4000);
}

export function Toasts() {
  return (
    <div class="toasts" role="status" aria-live="polite">
      <For each={toasts()}>
        {(toast) => (
          <p class="toast" classList={{ 'toast-error': toast.tone === 'error' }}>
            {toast.text}
          </p>
        )}
      </For>
    </div>
  );
}
