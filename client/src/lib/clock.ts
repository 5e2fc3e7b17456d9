// A shared "now" for relative times and running durations: one timer for the whole app per interval, not one
// per row. (It only redraws text; it never asks the server anything.)
import { createSignal, getOwner, onCleanup, type Accessor } from 'solid-js';

const clocks = new Map<number, { now: Accessor<number>; users: number; timer: ReturnType<typeof setInterval> }>();

export function useNow(intervalMs = 30_000): Accessor<number> {
  let clock = clocks.get(intervalMs);
  if (!clock) {
    const [now, setNow] = createSignal(Date.now());
    clock = { now, users: 0, timer: setInterval(() => setNow(Date.now()), intervalMs) };
    clocks.set(intervalMs, clock);
  }
  const entry = clock;
  entry.users++;
  if (getOwner()) {
    onCleanup(() => {
      entry.users--;
      if (entry.users === 0) {
        clearInterval(entry.timer);
        clocks.delete(intervalMs);
      }
    });
  }
  return entry.now;
}
