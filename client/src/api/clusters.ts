// Clusters and their GPUs: what Home's cards, the Clusters screen and the launch form read.
import { ClusterCardFields, GpuSummaryFields } from '../components/cluster-card.fragment';
import { mutate, query, subscribe, unwrap } from './client';
import { FailureFields, graphql, type ResultOf } from './graphql';
import { createLive } from './live';

/** A cluster as the app keeps it: what the launch form and status read, and its card. */
const ClusterFields = graphql(
  `
  fragment Cluster on Cluster @_unmask {
    name reachable stale needsReauth latencyMs
    partitions { name isDefault available }
    ...ClusterCard
  }
`,
  [ClusterCardFields],
);

/** A cluster's GPUs: bars by type and partition, nodes with free GPUs, nodes out of service. */
const GpuAvailabilityFields = graphql(
  `
  fragment GpuAvailability on GpuAvailability @_unmask {
    cluster fetchedAt stale lastError refreshLimitedUntil
    byType { type free allocated stranded total pendingDemand }
    byPartition { partition type free allocated stranded total pendingDemand }
    nodesWithFreeGpus { node free type partitions }
    unavailableNodes { node state gpus reason partitions }
    ...GpuSummary
  }
`,
  [GpuSummaryFields],
);

export type Cluster = ResultOf<typeof ClusterFields>;
export type GpuAvailability = ResultOf<typeof GpuAvailabilityFields>;

const CLUSTERS = graphql(`query Clusters { clusters { ...Cluster } }`, [ClusterFields]);
const CLUSTER_STATUS = graphql(`subscription ClusterStatus { clusterStatus { ...Cluster } }`, [ClusterFields]);
const TEST_CONNECTION = graphql(
  `
  mutation TestClusterConnection($name: String!) {
    testClusterConnection(name: $name) { __typename ... on MutationTestClusterConnectionSuccess { data { ...Cluster } } ...Failure }
  }
`,
  [ClusterFields, FailureFields],
);
const GPUS = graphql(
  `
  query Gpus($cluster: String!, $refresh: Boolean) {
    gpuAvailability(cluster: $cluster, refresh: $refresh) { __typename ... on QueryGpuAvailabilitySuccess { data { ...GpuAvailability } } ...Failure }
  }
`,
  [GpuAvailabilityFields, FailureFields],
);
const GPUS_LIVE = graphql(`subscription GpuAvailability($cluster: String!) { gpuAvailability(cluster: $cluster) { ...GpuAvailability } }`, [GpuAvailabilityFields]);

export async function fetchClusters(): Promise<Cluster[]> {
  return (await query(CLUSTERS, {})).clusters;
}

export async function testClusterConnection(name: string): Promise<Cluster> {
  return unwrap((await mutate(TEST_CONNECTION, { name })).testClusterConnection, 'MutationTestClusterConnectionSuccess');
}

const upsertCluster = (list: Cluster[], cluster: Cluster) =>
  list.some((entry) => entry.name === cluster.name) ? list.map((entry) => (entry.name === cluster.name ? cluster : entry)) : [...list, cluster];

/** Every configured cluster, kept current by clusterStatus. */
export function createClustersLive() {
  return createLive({
    key: () => 'clusters',
    itemKey: 'name',
    load: fetchClusters,
    live: (update) => subscribe(CLUSTER_STATUS, {}, (data) => update((list) => upsertCluster(list, data.clusterStatus))),
  });
}

export async function fetchGpuAvailability(cluster: string, refresh = false): Promise<GpuAvailability> {
  return unwrap((await query(GPUS, { cluster, refresh })).gpuAvailability, 'QueryGpuAvailabilitySuccess');
}

/** A cluster's GPU availability, replaced each time the server reads it afresh. */
export function createGpuLive(cluster: () => string | null | undefined) {
  return createLive({
    key: () => cluster() && `gpu:${cluster()}`,
    itemKey: 'node',
    load: () => fetchGpuAvailability(cluster()!),
    live: (update) => {
      const name = cluster();
      if (!name) return;
      return subscribe(GPUS_LIVE, { cluster: name }, (data) => update(() => data.gpuAvailability));
    },
  });
}
