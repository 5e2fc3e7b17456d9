import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import type { Context } from '../server/services.js';

/**
 * The extension of a subscription field whose events are the same for every subscriber with the same arguments and
 * reader (no replay for a newcomer, nothing per subscriber): the server executes each event once per such group
 * (server/http/shared-subscriptions.ts).
 */
export const SHARED_DELIVERY = 'sharedDelivery';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: { DateTime: { Input: Date; Output: Date }; JSON: { Input: unknown; Output: unknown }; ByteOffset: { Input: number; Output: number } };
  DefaultFieldNullability: false;
}>({
  plugins: [ErrorsPlugin],
  defaultFieldNullability: false,
  errors: { defaultTypes: [] },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
