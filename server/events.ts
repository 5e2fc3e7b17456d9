// Events from the server to subscriptions. Payloads are plain objects (never managed entities), because a
// subscriber's resolvers run long after the EntityManager that loaded them is gone.
import { createPubSub } from 'graphql-yoga';
import type { ClusterStatus } from './clusters/service.js';
import type { Job, Sweep } from './db/entities.js';
import type { GpuAvailability } from './clusters/gpu.js';

export type JobSnapshot = Job;
/** A sweep without its run list (which can be large and never changes). */
export type SweepSnapshot = Omit<Sweep, 'runs'>;

export interface JobLogChunk {
  jobId: number;
  /** Byte offset in the output file where `text` starts. */
  fromByte: number;
  text: string;
}

export type Events = {
  'job:updated': [JobSnapshot];
  'sweep:updated': [SweepSnapshot];
  /** New points of a job's metrics were stored (at most once a second per job). */
  'metrics:updated': [{ jobId: number; names: string[] }];
  'job:log': [number, JobLogChunk];
  'cluster:status': [ClusterStatus];
  'gpu:availability': [string, GpuAvailability];
};

export type PubSub = ReturnType<typeof createEvents>;

export function createEvents() {
  return createPubSub<Events>();
}
