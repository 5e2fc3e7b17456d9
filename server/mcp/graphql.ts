// How the MCP tools reach the services: through the GraphQL schema, executed in this process as the MCP session's
// token, so every tool runs the resolvers the app and notebooks run, with the same read-only rule, rate limits,
// masking and redaction (server/http/app.ts passes the gateway in). The tools never see an EntityManager or a service.
import type { ExecutionResult } from 'graphql';
import type { Session } from '../access/session.js';

/** Who runs an operation and which HTTP request it came in on (for the operation's log line). */
export interface Origin {
  session: Session;
  requestId: string | null;
}

export interface GraphQLGateway {
  execute(origin: Origin, document: string, variables?: Record<string, unknown>): Promise<ExecutionResult>;
  /** A subscription's events, or the one result that refused it. */
  subscribe(origin: Origin, document: string, variables?: Record<string, unknown>): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
}

/** What a tool answers when it cannot do what was asked: the text the model reads, without a stack. */
export class ToolError extends Error {}

type Data = Record<string, unknown>;

/** The operation's data; its errors (a refused token, a read-only one, an invalid document) as a ToolError. */
export function dataOf(result: ExecutionResult): Data {
  if (result.errors?.length) throw new ToolError(result.errors.map((error) => error.message).join('; '));
  if (!result.data) throw new ToolError('the server returned no data');
  return result.data as Data;
}

/**
 * A result union's success (`{ data }`), or its typed error as a ToolError that names it: "NotFoundError: job 7 does
 * not exist". Documents ask `... on Error { __typename message }` (and `field` on a ValidationError) for this.
 */
export function successOf<T = Data>(result: unknown): T {
  const value = result as { data?: T; __typename?: string; message?: string; field?: string; retryAfterSeconds?: number } | null;
  if (value && 'data' in value) return value.data as T;
  if (value?.message !== undefined) {
    const where = value.field ? ` (${value.field})` : '';
    const retry = value.retryAfterSeconds !== undefined ? ` Try again in ${value.retryAfterSeconds} s.` : '';
    throw new ToolError(`${value.__typename ?? 'Error'}${where}: ${value.message}${retry}`);
  }
  throw new ToolError('the server returned neither a result nor an error');
}

/**
 * The selection every result union gets, so successOf can name what went wrong. A union that has ValidationError or
 * RateLimitedError also asks their `field` or `retryAfterSeconds` (a fragment on a type outside the union is invalid).
 */
export const ERROR_FIELDS = '... on Error { __typename message }';

export async function query(gateway: GraphQLGateway, origin: Origin, document: string, variables?: Record<string, unknown>): Promise<Data> {
  return dataOf(await gateway.execute(origin, document, variables));
}
