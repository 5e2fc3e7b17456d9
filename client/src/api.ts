// All data access of the app: one urql client and the GraphQL documents. Routes and components stay thin.
import { Client, fetchExchange, gql } from '@urql/core';

export interface PartitionState {
  state: string;
  nodes: number;
}

export interface Partition {
  name: string;
  isDefault: boolean;
  available: boolean;
  nodes: number;
  states: PartitionState[];
}

export interface Cluster {
  name: string;
  host: string | null;
  reachable: boolean | null;
  latencyMs: number | null;
  slurmVersion: string | null;
  partitions: Partition[];
  error: string | null;
  checkedAt: string | null;
}

const ClusterFields = gql`
  fragment ClusterFields on Cluster {
    name
    host
    reachable
    latencyMs
    slurmVersion
    partitions {
      name
      isDefault
      available
      nodes
      states {
        state
        nodes
      }
    }
    error
    checkedAt
  }
`;

const ClustersQuery = gql`
  query Clusters {
    clusters {
      ...ClusterFields
    }
  }
  ${ClusterFields}
`;

const TestClusterConnection = gql`
  mutation TestClusterConnection($name: String!) {
    testClusterConnection(name: $name) {
      __typename
      ... on MutationTestClusterConnectionSuccess {
        data {
          ...ClusterFields
        }
      }
      ... on Error {
        message
      }
    }
  }
  ${ClusterFields}
`;

export const client = new Client({
  url: '/graphql',
  exchanges: [fetchExchange],
  requestPolicy: 'network-only',
});

export async function fetchClusters(): Promise<Cluster[]> {
  const result = await client.query<{ clusters: Cluster[] }>(ClustersQuery, {}).toPromise();
  if (result.error) throw result.error;
  return result.data!.clusters;
}

export async function testClusterConnection(name: string): Promise<Cluster> {
  type Result = { testClusterConnection: { __typename: string; data?: Cluster; message?: string } };
  const result = await client.mutation<Result>(TestClusterConnection, { name }).toPromise();
  if (result.error) throw result.error;
  const outcome = result.data!.testClusterConnection;
  if (!outcome.data) throw new Error(outcome.message ?? 'connection test failed');
  return outcome.data;
}
