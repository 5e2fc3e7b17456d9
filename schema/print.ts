// Writes schema/schema.graphql, the client's contract. A test fails when the committed file drifts from the code.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './index.js';

export const schemaFile = fileURLToPath(new URL('./schema.graphql', import.meta.url));
export const printedSchema = (): string => `${printSchema(schema)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaFile, printedSchema());
  console.log(`wrote ${schemaFile}`);
}
