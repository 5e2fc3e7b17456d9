// Every GraphQL document the app sends, as sent (fragments appended), validated against the server's committed SDL
// (the client's only contract). gql.tada checks their text at typecheck; this checks what goes over the wire.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { declaredDocuments } from './client';
import './clusters';
import './jobs';
import './launch';
import './projects';
import './push';
import './session';
import './sweeps';

const schema = buildSchema(readFileSync(resolve(process.cwd(), 'schema/schema.graphql'), 'utf8'));

describe('the GraphQL documents of the app', () => {
  it('are all valid against schema/schema.graphql', () => {
    const documents = declaredDocuments();
    expect(documents.length).toBeGreaterThan(20);
    const failures = documents.flatMap((document) => validate(schema, parse(document)).map((error) => `${document.slice(0, 60)}…: ${error.message}`));
    expect(failures).toEqual([]);
  });
});
