// Reading a project's config files happens in one worker thread, started on first use and kept: parsing YAML from a
// repository costs up to a quarter of a second per file even within the limits (server/project-files.ts), and on the
// event loop that would hold every other request. A read that passes its deadline (or the worker's memory limit)
// ends the worker; the reads that were waiting beside it are sent once more to a fresh one.
import { Worker } from 'node:worker_threads';
import type { AppError } from '../errors.js';

export const PROJECT_READ_DEADLINE_MS = 10_000;
/** Heap of the worker: its parse cache plus the largest composition the file limits allow, with room to spare. */
const WORKER_HEAP_MB = 512;

export interface ReaderRequest {
  id: number;
  operation: string;
  args: unknown[];
}

export type ReaderReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string; fields: Record<string, unknown> } };

type ErrorClass = abstract new (...args: never[]) => AppError;

interface Pending {
  request: ReaderRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  typed: readonly ErrorClass[];
  failure: (reason: string) => Error;
  timer: NodeJS.Timeout | null;
  resent: boolean;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function revive(error: Extract<ReaderReply, { ok: false }>['error'], typed: readonly ErrorClass[]): Error {
  const type = typed.find((candidate) => candidate.name === error.name);
  if (!type) return Object.assign(new Error(error.message), { stack: error.stack });
  // The fields are the error's own (file, line, field…): rebuilt without calling the constructor, which would word
  // the message again.
  const revived = Object.create(type.prototype) as AppError;
  Object.assign(revived, error.fields, { name: error.name, message: error.message });
  Object.defineProperty(revived, 'stack', { value: `${error.name}: ${error.message}\n    (in the project-reader worker)`, writable: true, configurable: true });
  return revived;
}

function settle(id: number): Pending | undefined {
  const entry = pending.get(id);
  if (!entry) return undefined;
  pending.delete(id);
  if (entry.timer) clearTimeout(entry.timer);
  return entry;
}

/** Ends the worker and, once, retries what was waiting on it; `culprit` (if any) gets `reason` instead. */
function restart(reason: string, culprit: number | null): void {
  const old = worker;
  worker = null;
  old?.removeAllListeners();
  void old?.terminate();
  for (const [id, entry] of [...pending]) {
    if (id === culprit || entry.resent) {
      settle(id)!.reject(entry.failure(reason));
    } else {
      entry.resent = true;
      if (entry.timer) clearTimeout(entry.timer);
      dispatch(entry);
    }
  }
}

// The production build (server/cli/build.mjs) puts the compiled worker beside the compiled server; from TypeScript
// (tests, `npm run dev`) the worker registers tsx first, through reader-boot.mjs.
const compiled = import.meta.url.endsWith('.js');

function start(): Worker {
  const started = new Worker(compiled ? new URL('./reader-worker.js', import.meta.url) : new URL('./reader-boot.mjs', import.meta.url), {
    workerData: { entry: new URL('./reader-worker.ts', import.meta.url).href },
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  started.on('message', (reply: ReaderReply) => {
    const entry = settle(reply.id);
    if (!entry) return;
    if (reply.ok) entry.resolve(reply.value);
    else entry.reject(revive(reply.error, entry.typed));
  });
  started.on('error', (error: Error & { code?: string }) => {
    if (worker !== started) return;
    const reason = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `needed more than ${WORKER_HEAP_MB} MB of memory; stopped` : `the reader failed: ${error.message}`;
    // Which read ran the worker out of memory is not known: every read in flight is retried once.
    restart(reason, null);
  });
  started.on('exit', () => {
    if (worker === started) restart('the reader stopped unexpectedly', null);
  });
  // The worker alone never keeps the process alive; a read in flight does, through its deadline timer. (After the
  // listeners: adding a 'message' listener refs the worker's port again.)
  started.unref();
  return started;
}

function dispatch(entry: Pending): void {
  worker ??= start();
  entry.timer = setTimeout(() => restart(`took longer than ${PROJECT_READ_DEADLINE_MS / 1000} s; stopped`, entry.request.id), PROJECT_READ_DEADLINE_MS);
  worker.postMessage(entry.request);
}

/**
 * Runs `operation` (a function of server/projects/reader-worker.ts) in the worker. Errors of the `typed` classes
 * come back as themselves; a deadline passed or a worker that died becomes `failure(reason)`.
 */
export function readInWorker<T>(operation: string, args: unknown[], typed: readonly ErrorClass[], failure: (reason: string) => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = { id: nextId++, operation, args };
    const entry: Pending = { request, resolve: resolve as (value: unknown) => void, reject, typed, failure, timer: null, resent: false };
    pending.set(request.id, entry);
    dispatch(entry);
  });
}
