// How tests talk to a running server: plain HTTP POSTs, as a notebook would. GraphQL errors fail the test.
export function graphqlClient(url: string) {
  return async function request<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(`GraphQL errors: ${body.errors.map((error) => error.message).join('; ')}`);
    return body.data!;
  };
}
