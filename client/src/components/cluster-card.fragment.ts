// The fragment beside its component, in a .ts file: data modules spread it without loading the component.
import { graphql } from '../api/graphql';

/** What a cluster's card shows. */
export const ClusterCardFields = graphql(`
  fragment ClusterCard on Cluster {
    name host reachable latencyMs slurmVersion error stale needsReauth lastPollAt lastPollError
    partitions { name isDefault available nodes states { state nodes } }
    connectionHelp { vpn steps link }
  }
`);

/** The card's line of free GPUs by type. */
export const GpuSummaryFields = graphql(`
  fragment GpuSummary on GpuAvailability {
    byType { type free total }
  }
`);
