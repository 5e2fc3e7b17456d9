// The app's GraphQL documents, typed from the committed SDL (schema/schema.graphql, through src/graphql-env.d.ts):
// a document that asks for a field or argument the schema lacks fails `npm run typecheck` (gql.tada check), and
// every result type is inferred from the document itself.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from '../graphql-env.d.ts';

const tada = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ByteOffset: number };
}>();

const documents: unknown[] = [];

/** Declares a document; each is kept so a unit test validates it, fragments included, against the SDL. */
export const graphql: typeof tada = Object.assign((...args: Parameters<typeof tada>) => {
  const document = tada(...args);
  documents.push(document);
  return document;
}, tada) as typeof tada;

export const declaredDocuments = (): readonly unknown[] => documents;

export { maskFragments, readFragment, type FragmentOf, type ResultOf, type VariablesOf } from 'gql.tada';

/** What every typed failure says (`... on Error`); a refused value also names its field. Spread in every union. */
export const FailureFields = graphql(`
  fragment Failure on Error @_unmask {
    message
    ... on ValidationError { field }
  }
`);
