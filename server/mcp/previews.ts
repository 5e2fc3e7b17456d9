// The launches and sweeps an MCP session has previewed, by tag: submit_preview submits one of these and nothing else,
// so an agent cannot submit what it did not first show. Per session (another session's previews are not its own) and
// bounded: an agent that previews in a loop forgets its oldest previews, never the server's memory.
import { LRUCache } from 'lru-cache';

export type Preview = { kind: 'launch'; input: Record<string, unknown> } | { kind: 'sweep'; input: Record<string, unknown> };

/** Previews a session keeps, and for how long: a user reads a script for minutes, not days. */
const MAX_PREVIEWS = 50;
const PREVIEW_TTL_MS = 24 * 3600_000;

export function createPreviews() {
  const byTag = new LRUCache<string, Preview>({ max: MAX_PREVIEWS, ttl: PREVIEW_TTL_MS });
  return {
    remember: (tag: string, preview: Preview) => void byTag.set(tag, preview),
    recall: (tag: string): Preview | undefined => byTag.get(tag),
  };
}

export type Previews = ReturnType<typeof createPreviews>;
