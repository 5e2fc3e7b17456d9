// One JSON POST to a notification service (ntfy, a chat webhook), its answer sorted into "worth trying again" (the
// service is down, overloaded or slow: 5xx, 408, 429, no answer) and not (it refused the request: another try would
// be refused the same). The error never names the URL: for a webhook the URL is the secret.

/** One try's outcome; `retry` says whether another try could go differently. */
export type Attempt = { ok: true } | { ok: false; retry: boolean; error: string };

const MAX_ANSWER = 200;

export async function postJson(url: string, body: unknown, options: { headers?: Record<string, string>; timeoutMs: number }): Promise<Attempt> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(body),
      // A service answers; following a redirect would post the message (and its token) elsewhere.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = (await response.text()).trim();
    if (response.status >= 200 && response.status < 300) return { ok: true };
    const retry = response.status === 408 || response.status === 429 || response.status >= 500;
    return { ok: false, retry, error: `HTTP ${response.status}${text ? `: ${text.slice(0, MAX_ANSWER)}` : ''}` };
  } catch (error) {
    return { ok: false, retry: true, error: networkError(error) };
  }
}

/** fetch's "fetch failed" says nothing; its cause says what (ECONNREFUSED, a timeout). */
export function networkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const name = (error as Error).name;
  if (name === 'TimeoutError') return 'no answer in time';
  return `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
}
