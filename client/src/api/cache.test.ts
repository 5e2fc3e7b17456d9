import { describe, expect, it } from 'vitest';
import { createOfflineCache } from './cache';

function memory(quotaChars = Number.POSITIVE_INFINITY): Storage {
  const map = new Map<string, string>();
  const used = () => [...map.values()].reduce((sum, value) => sum + value.length, 0);
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (index) => [...map.keys()][index] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem(key, value) {
      if (used() - (map.get(key)?.length ?? 0) + value.length > quotaChars) throw new DOMException('full', 'QuotaExceededError');
      map.set(key, value);
    },
  };
}

describe('the offline cache', () => {
  it('returns what was written with the time it was saved', () => {
    const cache = createOfflineCache(memory(), { now: () => 1234 });
    cache.write('home:jobs', { recent: [{ id: 1 }] });
    expect(cache.read('home:jobs')).toEqual({ value: { recent: [{ id: 1 }] }, savedAt: 1234 });
    expect(cache.read('missing')).toBeNull();
  });

  it('keeps a bounded number of entries, dropping the least recently written', () => {
    const cache = createOfflineCache(memory(), { maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) cache.write(key, key);
    cache.write('a', 'a again');
    cache.write('d', 'd');
    expect(cache.keys()).toEqual(['c', 'a', 'd']);
    expect(cache.read('b')).toBeNull();
  });

  it('keeps no copy of a value too big to keep, not even an older one', () => {
    const cache = createOfflineCache(memory(), { maxEntryChars: 50 });
    cache.write('job:1', 'small');
    cache.write('job:1', 'x'.repeat(100));
    expect(cache.read('job:1')).toBeNull();
    expect(cache.keys()).toEqual([]);
  });

  it('makes room when the storage is full, and gives up quietly when it cannot', () => {
    const storage = memory(200);
    const cache = createOfflineCache(storage);
    cache.write('a', 'x'.repeat(60));
    cache.write('b', 'y'.repeat(60));
    cache.write('c', 'z'.repeat(60));
    expect(cache.read('c')?.value).toBe('z'.repeat(60));
    expect(cache.read('a')).toBeNull();
    expect(() => cache.write('huge', 'w'.repeat(500))).not.toThrow();
    expect(cache.read('huge')).toBeNull();
  });

  it('survives a corrupted entry or index and clears everything it wrote', () => {
    const storage = memory();
    storage.setItem('mc.cache.broken', '{not json');
    storage.setItem('mc.cache.#index', 'also not json');
    storage.setItem('mc.token', 'mc_keep');
    const cache = createOfflineCache(storage);
    expect(cache.read('broken')).toBeNull();
    cache.write('ok', 1);
    cache.clear();
    expect(cache.read('ok')).toBeNull();
    expect(storage.getItem('mc.token')).toBe('mc_keep');
  });
});
