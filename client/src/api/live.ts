// Live data for a screen: a query read once (and again after any connection gap), kept current by subscriptions,
// and saved as the last-known copy the app shows offline. Subscriptions, never polling.
import { createEffect, createSignal, on, onCleanup, untrack } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import { offlineCache } from './cache';
import { ApiError, errorMessage, resyncGeneration } from './client';

const prefetched = new Map<string, { at: number; promise: Promise<unknown> }>();
const PREFETCH_FRESH_MS = 3_000;

/**
 * Starts reading what a screen will show while its code is still loading (router `preload`); the screen's live
 * data takes the answer instead of asking again.
 */
export function prefetch(key: string, load: () => Promise<unknown>): void {
  const existing = prefetched.get(key);
  if (existing && Date.now() - existing.at < PREFETCH_FRESH_MS) return;
  const promise = load();
  promise.catch(() => undefined);
  prefetched.set(key, { at: Date.now(), promise });
}

function takePrefetched<T>(key: string): Promise<T> | null {
  const entry = prefetched.get(key);
  prefetched.delete(key);
  return entry && Date.now() - entry.at < PREFETCH_FRESH_MS ? (entry.promise as Promise<T>) : null;
}

export interface LiveOptions<T> {
  /** Identifies the data (and its offline copy); a falsy key means "nothing to load yet". */
  key: () => string | null | undefined | false;
  load: () => Promise<T>;
  /** Sets up the subscriptions that keep the value current; returns their teardown. */
  live?: (update: (change: (current: T) => T) => void) => (() => void) | void;
  /** Whether to keep an offline copy (default true). */
  persist?: boolean;
  /** How list items are matched when a new value replaces the old (keeps rows and their focus in place). */
  itemKey?: string;
}

export interface Live<T> {
  value: () => T | undefined;
  error: () => ApiError | null;
  loading: () => boolean;
  /** When the value shown came from the offline copy, the time it was saved. */
  cachedAt: () => number | null;
  refetch: () => Promise<void>;
  mutate: (change: (current: T) => T) => void;
}

export function createLive<T>(options: LiveOptions<T>): Live<T> {
  const [state, setState] = createStore<{ value: T | undefined }>({ value: undefined });
  const [error, setError] = createSignal<ApiError | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [cachedAt, setCachedAt] = createSignal<number | null>(null);
  const persist = options.persist ?? true;
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  let currentKey: string | null = null;
  let request = 0;

  const set = (value: T) => {
    setState('value', reconcile(value, { key: options.itemKey ?? 'id', merge: false }) as never);
    if (!persist || !currentKey) return;
    const key = currentKey;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => offlineCache.write(key, unwrap(state.value)), 400);
  };

  const load = async () => {
    const key = currentKey;
    if (!key) return;
    const mine = ++request;
    setLoading(true);
    try {
      const value = await (takePrefetched<T>(key) ?? options.load());
      if (mine !== request) return;
      set(value);
      setError(null);
      setCachedAt(null);
    } catch (failure) {
      if (mine !== request) return;
      setError(failure instanceof ApiError ? failure : new ApiError(errorMessage(failure), 'graphql'));
    } finally {
      if (mine === request) setLoading(false);
    }
  };

  createEffect(
    on(options.key, (key) => {
      currentKey = key || null;
      request++;
      setError(null);
      if (!currentKey) {
        setState('value', undefined);
        return;
      }
      const cached = persist ? offlineCache.read<T>(currentKey) : null;
      setState('value', cached ? (cached.value as never) : undefined);
      setCachedAt(cached ? cached.savedAt : null);
      // Subscribe before reading, so a change between the two is not lost.
      const stop = options.live?.((change) => {
        const current = untrack(() => state.value);
        if (current !== undefined) set(change(unwrap(current) as T));
      });
      if (stop) onCleanup(stop);
      void load();
    }),
  );

  // After a reconnect or coming back online, read again: events published meanwhile were never delivered.
  createEffect(on(resyncGeneration, () => void load(), { defer: true }));
  onCleanup(() => clearTimeout(saveTimer));

  return {
    value: () => state.value as T | undefined,
    error,
    loading,
    cachedAt,
    refetch: load,
    mutate: (change) => {
      const current = untrack(() => state.value);
      if (current !== undefined) set(change(unwrap(current) as T));
    },
  };
}
