/** Runs `work` for one key at a time: a later call with the same key waits for the earlier one to finish. */
export function oneAtATimePerKey() {
  const running = new Map<string, Promise<unknown>>();
  return async function <T>(key: string, work: () => Promise<T>): Promise<T> {
    for (let earlier = running.get(key); earlier; earlier = running.get(key)) await earlier.catch(() => undefined);
    const mine = work();
    running.set(key, mine);
    try {
      return await mine;
    } finally {
      if (running.get(key) === mine) running.delete(key);
    }
  };
}
