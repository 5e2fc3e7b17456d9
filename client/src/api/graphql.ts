// The app's GraphQL documents, typed from the committed SDL (schema/schema.graphql, through src/graphql-env.d.ts):
// a document that asks for a field or argument the schema lacks fails `npm run typecheck` (gql.tada check), and
// every result type is inferred from the document itself.
import { stringifyDocument, type TypedDocumentNode } from '@urql/core';
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from '../graphql-env.d.ts';

const tada = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ByteOffset: number };
}>();

const documents: TypedDocumentNode[] = [];

/** Declares a document; each is kept so tests can check every operation the app sends, as it sends it. */
export const graphql: typeof tada = Object.assign((...args: Parameters<typeof tada>) => {
  const document = tada(...args);
  documents.push(document);
  return document;
}, tada) as typeof tada;

/** The text of every operation the app declared, its fragments appended (fragments alone are not sent). */
export const declaredDocuments = (): string[] =>
  documents.filter((document) => document.definitions.some((definition) => definition.kind === 'OperationDefinition')).map((document) => stringifyDocument(document));

export { maskFragments, readFragment, type FragmentOf, type ResultOf, type VariablesOf } from 'gql.tada';

/** What every typed failure says (`... on Error`); a refused value also names its field. Spread in every union. */
export const FailureFields = graphql(`
  fragment Failure on Error @_unmask {
    message
    ... on ValidationError { field }
  }
`);
