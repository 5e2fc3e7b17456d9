import { GraphQLError, Kind, print, valueFromASTUntyped } from 'graphql';
import { builder } from './builder.js';

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string in UTC.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'A JSON value: a config default or a parameter value (string, number, boolean, null or a list of them).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

/**
 * A byte count or position in a file, as JSON numbers carry it exactly: 0 to 2^53 − 1. GraphQL's Int is 32-bit and
 * stops at 2 GiB, which a week of training output passes.
 */
function byteOffset(value: unknown, shown = JSON.stringify(value) ?? String(value)): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new GraphQLError(`ByteOffset must be a whole number of bytes from 0 to ${Number.MAX_SAFE_INTEGER}, not ${shown.slice(0, 40)}`, {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}

builder.scalarType('ByteOffset', {
  description: `A size or position in a file, in bytes: a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, as a JSON number (Int stops at 2 GiB).`,
  serialize: (value) => byteOffset(value),
  parseValue: (value) => byteOffset(value),
  // Past 2^53 a literal rounds to a double that is no longer safe, so it is refused rather than read as another number.
  parseLiteral: (ast) => byteOffset(ast.kind === Kind.INT ? Number(ast.value) : undefined, print(ast)),
});
