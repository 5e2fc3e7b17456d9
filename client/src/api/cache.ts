// Last-known copies of what the screens showed, so the app opens with data when the phone is offline. Small on
// purpose: a bounded number of entries, each bounded in size, the least recently written evicted first.

export interface CacheOptions {
  prefix?: string;
  maxEntries?: number;
  /** Entries bigger than this (in UTF-16 characters of their JSON) are not kept at all. */
  maxEntryChars?: number;
  now?: () => number;
}

export interface CachedValue<T> {
  value: T;
  savedAt: number;
}

export interface OfflineCache {
  read<T>(key: string): CachedValue<T> | null;
  write(key: string, value: unknown): void;
  remove(key: string): void;
  clear(): void;
  keys(): string[];
}

export function createOfflineCache(storage: Storage, options: CacheOptions = {}): OfflineCache {
  const prefix = options.prefix ?? 'mc.cache.';
  const maxEntries = options.maxEntries ?? 40;
  const maxEntryChars = options.maxEntryChars ?? 100_000;
  const now = options.now ?? Date.now;
  const indexKey = `${prefix}#index`;

  // Most recently written last.
  const readIndex = (): string[] => {
    try {
      const parsed: unknown = JSON.parse(storage.getItem(indexKey) ?? '[]');
      return Array.isArray(parsed) ? parsed.filter((key): key is string => typeof key === 'string') : [];
    } catch {
      return [];
    }
  };
  const writeIndex = (index: string[]) => storage.setItem(indexKey, JSON.stringify(index));

  const evictOldest = (index: string[]): boolean => {
    const oldest = index.shift();
    if (oldest === undefined) return false;
    storage.removeItem(prefix + oldest);
    return true;
  };

  return {
    read<T>(key: string): CachedValue<T> | null {
      try {
        const raw = storage.getItem(prefix + key);
        if (raw === null) return null;
        const entry = JSON.parse(raw) as { v: T; t: number };
        return { value: entry.v, savedAt: entry.t };
      } catch {
        return null;
      }
    },
    write(key, value) {
      const raw = JSON.stringify({ v: value, t: now() });
      const index = readIndex().filter((existing) => existing !== key);
      if (raw.length > maxEntryChars) {
        // Too big to keep: better no copy than an outdated one.
        storage.removeItem(prefix + key);
        writeIndex(index);
        return;
      }
      while (index.length >= maxEntries) evictOldest(index);
      index.push(key);
      // A full storage (quota) makes room by dropping the oldest copies, then gives up quietly: caching is a bonus.
      for (;;) {
        try {
          storage.setItem(prefix + key, raw);
          writeIndex(index);
          return;
        } catch {
          const others = index.filter((existing) => existing !== key);
          if (others.length === 0 || !evictOldest(index)) {
            writeIndex(index.filter((existing) => existing !== key));
            return;
          }
        }
      }
    },
    remove(key) {
      storage.removeItem(prefix + key);
      writeIndex(readIndex().filter((existing) => existing !== key));
    },
    clear() {
      for (const key of readIndex()) storage.removeItem(prefix + key);
      storage.removeItem(indexKey);
    },
    keys: readIndex,
  };
}

const memoryStorage = (): Storage => {
  const map = new Map<string, string>();
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (index) => [...map.keys()][index] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, String(value)),
  };
};

function defaultStorage(): Storage {
  try {
    return typeof localStorage === 'undefined' ? memoryStorage() : localStorage;
  } catch {
    // Storage disabled (private mode, blocked cookies): the app works, just without offline copies.
    return memoryStorage();
  }
}

export const offlineCache = createOfflineCache(defaultStorage());
