// Entry of the project-reader worker thread. Plain JavaScript: a worker does not inherit the `--import tsx` hooks of
// `npm start` (Node 20), and vitest has none, so the worker registers tsx itself before loading the TypeScript.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
