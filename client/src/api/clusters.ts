// Clusters and their GPUs: what Home's cards and the Clusters screen read.
import { graphql, mutate, query, subscribe, unwrap } from './client';
import { createLive } from './live';
import type { Cluster, GpuAvailability } from './types';

const CLUSTER_FIELDS = `
  name host reachable latencyMs slurmVersion error checkedAt stale needsReauth lastPollAt lastPollError
  partitions { name isDefault available nodes states { state nodes } }
`;

const GPU_FIELDS = `
  cluster fetchedAt stale lastError refreshLimitedUntil
  byType { type free allocated stranded total pendingDemand }
  byPartition { partition type free allocated stranded total pendingDemand }
  nodesWithFreeGpus { node free type partitions }
  unavailableNodes { node state gpus reason partitions }
`;

const CLUSTERS = graphql(`query Clusters { clusters { ${CLUSTER_FIELDS} } }`);
const CLUSTER_STATUS = graphql(`subscription ClusterStatus { clusterStatus { ${CLUSTER_FIELDS} } }`);
const TEST_CONNECTION = graphql(
  `mutation TestClusterConnection($name: String!) { testClusterConnection(name: $name) { __typename ... on MutationTestClusterConnectionSuccess { data { ${CLUSTER_FIELDS} } } ... on Error { message } } }`,
);
const GPUS = graphql(
  `query Gpus($cluster: String!, $refresh: Boolean) { gpuAvailability(cluster: $cluster, refresh: $refresh) { __typename ... on QueryGpuAvailabilitySuccess { data { ${GPU_FIELDS} } } ... on Error { message } } }`,
);
const GPUS_LIVE = graphql(`subscription GpuAvailability($cluster: String!) { gpuAvailability(cluster: $cluster) { ${GPU_FIELDS} } }`);

type Outcome<T> = { __typename: string; data?: T; message?: string };

export async function fetchClusters(): Promise<Cluster[]> {
  return (await query<{ clusters: Cluster[] }>(CLUSTERS, {})).clusters;
}

export async function testClusterConnection(name: string): Promise<Cluster> {
  return unwrap((await mutate<{ testClusterConnection: Outcome<Cluster> }>(TEST_CONNECTION, { name })).testClusterConnection);
}

const upsertCluster = (list: Cluster[], cluster: Cluster) =>
  list.some((entry) => entry.name === cluster.name) ? list.map((entry) => (entry.name === cluster.name ? cluster : entry)) : [...list, cluster];

/** Every configured cluster, kept current by clusterStatus. */
export function createClustersLive() {
  return createLive<Cluster[]>({
    key: () => 'clusters',
    itemKey: 'name',
    load: fetchClusters,
    live: (update) => subscribe<{ clusterStatus: Cluster }>(CLUSTER_STATUS, {}, (data) => update((list) => upsertCluster(list, data.clusterStatus))),
  });
}

export async function fetchGpuAvailability(cluster: string, refresh = false): Promise<GpuAvailability> {
  return unwrap((await query<{ gpuAvailability: Outcome<GpuAvailability> }>(GPUS, { cluster, refresh })).gpuAvailability);
}

/** A cluster's GPU availability, replaced each time the server reads it afresh. */
export function createGpuLive(cluster: () => string | null | undefined) {
  return createLive<GpuAvailability>({
    key: () => cluster() && `gpu:${cluster()}`,
    itemKey: 'node',
    load: () => fetchGpuAvailability(cluster()!),
    live: (update) => {
      const name = cluster();
      if (!name) return;
      return subscribe<{ gpuAvailability: GpuAvailability }>(GPUS_LIVE, { cluster: name }, (data) => update(() => data.gpuAvailability));
    },
  });
}
