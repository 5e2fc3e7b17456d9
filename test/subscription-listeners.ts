// A subscriber as a client is one: a graphql-ws WebSocket (the phone app) or an SSE stream (a notebook), recording what
// it was sent and when its transport ended.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { authHeaders, wsConnectionParams } from './graphql-client.js';

export interface Subscription {
  query: string;
  variables?: Record<string, unknown>;
}

export const JOB_UPDATED: Subscription = { query: 'subscription { jobUpdated { id state } }' };

export interface Listener {
  /** Every event delivered (the id of its root field's object), with when it arrived. */
  events: Array<{ id: number; at: number }>;
  errors: string[];
  /** Every message as it came, as JSON (whatever its root field's shape). */
  messages: string[];
  /** When the transport ended (a WebSocket's close code, an SSE stream's end), or null while it is open. */
  ended: { at: number; code?: number } | null;
  stop(): void;
}

type Value = { data?: Record<string, { id: number } | null> | null; errors?: ReadonlyArray<{ message: string }> };

function record(listener: Listener, value: Value): void {
  listener.messages.push(JSON.stringify(value));
  if (value.errors) listener.errors.push(...value.errors.map((error) => error.message));
  const object = value.data ? Object.values(value.data)[0] : undefined;
  if (object && typeof object.id === 'number') listener.events.push({ id: object.id, at: Date.now() });
}

export function overWebSocket(url: string, token: string | undefined, subscription: Subscription = JOB_UPDATED): Promise<Listener> {
  return new Promise((resolve) => {
    const listener: Listener = { events: [], errors: [], messages: [], ended: null, stop: () => void client.dispose() };
    const client = createClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      connectionParams: token ? wsConnectionParams(token) : {},
      on: {
        connected: () => resolve(listener),
        closed: (event) => (listener.ended ??= { at: Date.now(), code: (event as { code: number }).code }),
      },
    });
    client.subscribe(subscription, { next: (value) => record(listener, value as Value), error: () => undefined, complete: () => undefined });
  });
}

export async function overSse(url: string, token: string | undefined, subscription: Subscription = JOB_UPDATED): Promise<Listener> {
  const abort = new AbortController();
  const query = new URLSearchParams({ query: subscription.query, ...(subscription.variables ? { variables: JSON.stringify(subscription.variables) } : {}) });
  const response = await fetch(`${url}/graphql?${query}`, { headers: { accept: 'text/event-stream', ...authHeaders(token) }, signal: abort.signal });
  if (response.status !== 200) throw new Error(`SSE subscription answered ${response.status}: ${await response.text()}`);
  const listener: Listener = { events: [], errors: [], messages: [], ended: null, stop: () => abort.abort() };
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      const reader = response.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        buffered += decoder.decode(chunk.value, { stream: true });
        let boundary: number;
        while ((boundary = buffered.indexOf('\n\n')) !== -1) {
          const message = buffered.slice(0, boundary);
          buffered = buffered.slice(boundary + 2);
          const data = message.split('\n').find((line) => line.startsWith('data: '))?.slice('data: '.length);
          if (data) record(listener, JSON.parse(data) as Value);
        }
      }
    } catch {
      // aborted by stop()
    }
    listener.ended = { at: Date.now() };
  })();
  return listener;
}
