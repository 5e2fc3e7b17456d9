// Fails when src/graphql-env.d.ts, the introspection gql.tada types the app's documents with, is not what the
// committed SDL gives (the SDL changed and the file was not regenerated). The same call as the CLI's
// `gql.tada generate-output`, compared instead of written.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFromSDL, minifyIntrospection, outputIntrospectionFile } from '@gql.tada/internal';

const sdl = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));
const output = fileURLToPath(new URL('../src/graphql-env.d.ts', import.meta.url));

const { introspection } = await loadFromSDL({ file: sdl, assumeValid: true }).load();
const expected = outputIntrospectionFile(minifyIntrospection(introspection), { fileType: output, shouldPreprocess: true });
if (readFileSync(output, 'utf8') !== expected) {
  console.error('client/src/graphql-env.d.ts is stale: schema/schema.graphql changed. Run: npm run graphql:env');
  process.exit(1);
}
