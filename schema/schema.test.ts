import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { printedSchema, schemaFile } from './print.js';

it('schema/schema.graphql matches the code (run `npm run schema:print` after changing the schema)', () => {
  expect(readFileSync(schemaFile, 'utf8')).toBe(printedSchema());
});
