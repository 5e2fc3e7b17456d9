// A first-come queue in front of one SSH connection's channels. sshd refuses sessions beyond MaxSessions
// (default 10) with "Channel open failure" and ssh2 has no queue of its own, so a burst waits here instead.

export interface ChannelLimiter {
  /** Resolves when a channel may be opened; call the returned function (once is enough, twice is harmless) when it closed. */
  acquire(): Promise<() => void>;
  readonly active: number;
  readonly waiting: number;
}

export function createChannelLimiter(limit: number): ChannelLimiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    get active() {
      return active;
    },
    get waiting() {
      return waiting.length;
    },
    async acquire() {
      // The slot is handed over by the releaser (active is not decremented then), so a caller arriving between a
      // release and the waiter's wake-up cannot take it first.
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next) next();
        else active--;
      };
    },
  };
}
