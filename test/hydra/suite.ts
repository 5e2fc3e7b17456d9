// What every real-Hydra suite starts with: Hydra 1.3.2 or a clear verdict (a failure in CI, a skip elsewhere), and one
// oracle process per describe block.
import { afterAll, beforeAll } from 'vitest';
import { available, HydraOracle } from './oracle.js';

/** Whether real Hydra is here; in CI its absence fails the suite, elsewhere the suite skips, saying what it needs. */
export function realHydra(suite: string): { ok: boolean; reason: string } {
  const state = available();
  if (!state.ok && process.env.CI) throw new Error(`${suite} needs real Hydra in CI: ${state.reason}`);
  if (!state.ok) console.warn(`${suite} skipped: ${state.reason}`);
  return state;
}

/** One oracle process for the enclosing describe block: started before its tests, closed after them. */
export function oracleForBlock(): () => HydraOracle {
  let oracle: HydraOracle | undefined;
  beforeAll(() => {
    oracle = new HydraOracle();
  });
  afterAll(async () => {
    await oracle?.close();
  });
  return () => oracle!;
}
