// The launches and sweeps an MCP session has previewed, by tag: submit_preview submits one of these and nothing else,
// so an agent cannot submit what it did not first show. Per session (another session's previews are not its own) and
// bounded in count and bytes: an agent that previews in a loop forgets its oldest previews, never the server's memory.
import { LRUCache } from 'lru-cache';
import { ToolError } from './graphql.js';

export interface Preview {
  kind: 'launch' | 'sweep';
  input: Record<string, unknown>;
  /** The script the user was shown, to tell them if the one submitted differs. */
  script: string;
}

/** A user reads a script for minutes, not days; a launch's input and script are a few kB. */
const MAX_PREVIEWS = 50;
const MAX_PREVIEW_BYTES = 64 * 1024;
const MAX_BYTES = 512 * 1024;
const PREVIEW_TTL_MS = 24 * 3600_000;

const sizeOf = (preview: Preview) => JSON.stringify(preview.input).length + preview.script.length;

export function createPreviews() {
  const byTag = new LRUCache<string, Preview>({ max: MAX_PREVIEWS, maxSize: MAX_BYTES, sizeCalculation: sizeOf, ttl: PREVIEW_TTL_MS });
  return {
    remember(tag: string, preview: Preview): void {
      const size = sizeOf(preview);
      if (size > MAX_PREVIEW_BYTES) throw new ToolError(`this launch is too large to keep for submit_preview (${Math.ceil(size / 1024)} kB; at most ${MAX_PREVIEW_BYTES / 1024} kB): shorten its description or overrides`);
      byTag.set(tag, preview);
    },
    recall: (tag: string): Preview | undefined => byTag.get(tag),
  };
}

export type Previews = ReturnType<typeof createPreviews>;
