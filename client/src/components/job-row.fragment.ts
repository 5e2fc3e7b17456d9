// The fragment beside its component, in a .ts file: data modules spread it without loading the component.
import { graphql } from '../api/graphql';

/**
 * What a job's row shows (also the lineage tree's nodes), and all Home's job lists select. Unmasked: the lists'
 * own rules read these fields too, and each fragment level multiplies a document's cost in the server's limit
 * (graphql-armor counts a spread deeper than the same fields inline), so Home's 260 rows cannot afford one more.
 */
export const JobRowFields = graphql(`
  fragment JobRow on Job @_unmask {
    id name description cluster state reason nodeList exitCode archived createdAt submittedAt startedAt endedAt
    estimatedStartAt waitingFor
  }
`);
