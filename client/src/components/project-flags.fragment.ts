// The fragment beside its component, in a .ts file: data modules spread it without loading the component.
import { graphql } from '../api/graphql';

/** The warnings a project's commit carries wherever the project is shown. */
export const ProjectFlagsFields = graphql(`
  fragment ProjectFlags on Project { dirty pushed }
`);
