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

/**
 * The card's line of free GPUs by type, and the user's fair share and GPU limits read by the same cluster check (on
 * the GPU answer rather than the cluster: the card follows GPU pushes already, so it costs no lookup of its own).
 */
export const GpuSummaryFields = graphql(`
  fragment GpuSummary on GpuAvailability {
    byType { type free total }
    standing {
      fairShare { account factor }
      gpusRunning gpusPending
      gpuLimits { source name scope gpus running pending }
    }
  }
`);
