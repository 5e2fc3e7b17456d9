// A GraphQL input type as a zod schema, for the MCP tools that take what a GraphQL mutation takes (a launch, a sweep):
// the fields, their types and their descriptions are written once, in schema/, and an agent reads the same words a
// notebook user does. GraphQL still validates every call; zod is what the agent is shown, and its first check.
import {
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
  type GraphQLInputObjectType,
  type GraphQLSchema,
} from 'graphql';
import { z } from 'zod';

const SCALARS: Record<string, () => z.ZodType> = {
  Int: () => z.number().int(),
  Float: () => z.number(),
  String: () => z.string(),
  Boolean: () => z.boolean(),
  ID: () => z.string(),
  // Our own scalars (schema/scalars.ts): a byte count, an ISO date, any JSON value (a Hydra parameter's value).
  ByteOffset: () => z.number().int().nonnegative(),
  DateTime: () => z.string().describe('ISO 8601 date and time'),
  JSON: () => z.unknown(),
};

function zodOfType(type: GraphQLInputType): z.ZodType {
  const inner = getNullableType(type);
  let schema: z.ZodType;
  if (isListType(inner)) schema = z.array(zodOfType(inner.ofType));
  else if (isInputObjectType(inner)) schema = z.object(zodShapeOf(inner));
  else if (isEnumType(inner)) schema = z.enum(inner.getValues().map((value) => value.name) as [string, ...string[]]);
  else if (isScalarType(inner)) {
    const scalar = SCALARS[inner.name];
    if (!scalar) throw new Error(`no zod schema for the GraphQL scalar ${inner.name}: add it to SCALARS`);
    schema = scalar();
  } else throw new Error(`not an input type: ${String(inner)}`);
  // An omitted optional field takes its GraphQL default; null is what GraphQL accepts for it too.
  return isNonNullType(type) ? schema : schema.nullish();
}

/** The fields of a GraphQL input object as a zod shape (the MCP SDK's inputSchema), with the schema's descriptions. */
export function zodShapeOf(type: GraphQLInputObjectType): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.values(type.getFields()).map((field) => {
      const schema = zodOfType(field.type);
      // GraphQL fills an omitted field's default; the model is told what it is.
      const words = [field.description?.replace(/\s+/g, ' ').trim(), field.defaultValue !== undefined ? `Default: ${JSON.stringify(field.defaultValue)}.` : undefined].filter(Boolean).join(' ');
      const described = words ? schema.describe(words) : schema;
      return [field.name, described];
    }),
  );
}

export function inputObject(schema: GraphQLSchema, name: string): GraphQLInputObjectType {
  const type = schema.getType(name);
  if (!isInputObjectType(type)) throw new Error(`${name} is not an input type of the schema`);
  return type;
}
