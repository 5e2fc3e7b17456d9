// The project-reader worker thread (started by server/projects/reader.ts through reader-boot.mjs): reads and
// composes a project's config files off the main event loop. Its parse cache lives here, for as long as the worker.
import { parentPort } from 'node:worker_threads';
import { composeHydraConfig } from './hydra/config.js';
import { readSettingsHere } from './settings.js';
import type { ReaderReply, ReaderRequest } from './reader.js';

const operations: Record<string, (...args: any[]) => Promise<unknown>> = {
  hydraConfig: composeHydraConfig,
  settings: readSettingsHere,
};

parentPort!.on('message', async (request: ReaderRequest) => {
  let reply: ReaderReply;
  try {
    reply = { id: request.id, ok: true, value: await operations[request.operation]!(...request.args) };
  } catch (caught) {
    const error = caught instanceof Error ? caught : new Error(String(caught));
    const fields = Object.fromEntries(Object.entries(error).filter(([, value]) => value === null || ['string', 'number', 'boolean'].includes(typeof value)));
    reply = { id: request.id, ok: false, error: { name: error.name, message: error.message, stack: error.stack, fields } };
  }
  parentPort!.postMessage(reply);
});
