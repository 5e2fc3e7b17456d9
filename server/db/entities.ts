import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export interface PartitionInfo {
  name: string;
  isDefault: boolean;
  available: boolean;
  nodes: number;
  /** Node states with their counts, e.g. idle: 2, mix: 1. */
  states: Array<{ state: string; nodes: number }>;
}

/** The last connection check of each configured cluster, so a restart shows the last known state at once. */
export const ClusterCheck = defineEntity({
  name: 'ClusterCheck',
  tableName: 'cluster_check',
  properties: {
    cluster: p.string().primary(),
    reachable: p.boolean(),
    latencyMs: p.integer().nullable(),
    slurmVersion: p.string().nullable(),
    partitions: p.json<PartitionInfo[]>(),
    error: p.text().nullable(),
    checkedAt: p.datetime(),
  },
});
export type ClusterCheck = InferEntity<typeof ClusterCheck>;

/** Listed explicitly: vitest's loader cannot discover entities by glob. */
export const entities = [ClusterCheck];
