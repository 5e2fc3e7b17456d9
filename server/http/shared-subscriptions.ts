// One execution per group of identical subscriptions. Ten thousand phones watching the same project ask the same
// thing: the same document, the same variables, read as the same reader. Each used to run the selection on every
// event itself (~250 µs of CPU each, 2.5 s per change at 10,000). Now the first of a group opens the subscription once,
// through the rest of the plugins (redaction, masking) as a reader without a token's identity would, and every event
// it yields, executed once, is handed as the same result to each subscriber of the group; the plugins before this one
// (the token's revocation) still wrap each subscriber's own stream. Only subscription fields that declare it take part
// (schema/builder.ts SHARED_DELIVERY): a stream that starts with a replay for each newcomer (a job's log) cannot be
// joined halfway.
import { getOperationAST, Kind, type ExecutionArgs, type ExecutionResult, type GraphQLField } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { WebSocket } from 'ws';

/**
 * Results a subscriber may have waiting before it is dropped: a socket that stopped reading must not hold the
 * server's memory. Far above what a live client ever has waiting (one per change of what it watches).
 */
export const MAX_WAITING = 1_000;

export class SlowSubscriberError extends Error {
  constructor() {
    super(`this subscription fell ${MAX_WAITING} events behind and was ended; subscribe again to catch up`);
    this.name = 'SlowSubscriberError';
  }
}

type Source = AsyncIterator<ExecutionResult>;

interface Group {
  key: string;
  subscribers: Set<Subscriber>;
  /** Once the group's one subscription is open: null, or its refusal (a result, not a stream). */
  opened: Promise<ExecutionResult | null>;
  source: Source | null;
  closed: boolean;
}

export interface SharedSubscriptionsOptions {
  /** Whether a subscription field's events are the same for every subscriber with the same arguments and reader. */
  shareable(field: GraphQLField<unknown, unknown>): boolean;
  /**
   * Who a subscriber reads as (server/access/session.ts): subscribers that read as the same see the same data, so
   * they may share one execution. null: this subscriber shares with nobody.
   */
  readerOf(context: unknown): string | null;
  /** Opens the group's one subscription through the whole pipeline, for that reader, without any token's identity. */
  subscribeAs(reader: string, args: ExecutionArgs, markSource: (context: object) => void): Promise<unknown>;
}

/** A subscriber's own stream: a queue of the group's results, left (and the group closed when empty) on return(). */
class Subscriber implements AsyncIterableIterator<ExecutionResult> {
  private readonly queue: ExecutionResult[] = [];
  private waiting: { resolve(result: IteratorResult<ExecutionResult>): void; reject(error: unknown): void } | null = null;
  private ended = false;
  private failure: unknown = null;

  constructor(private readonly leave: (subscriber: Subscriber) => void) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  push(result: ExecutionResult): void {
    if (this.ended) return;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: result, done: false });
    } else if (this.queue.length < MAX_WAITING) this.queue.push(result);
    else this.end(new SlowSubscriberError());
  }

  /** The group's stream ended (with its error, if it failed): what is queued is still delivered first. */
  end(failure: unknown = null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    this.leave(this);
    if (!this.waiting) return;
    const waiting = this.waiting;
    this.waiting = null;
    if (failure) waiting.reject(failure);
    else waiting.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.ended) {
      const failure = this.failure;
      this.failure = null;
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** Unsubscribed: nothing more is delivered, at once, whatever is queued. */
  return(): Promise<IteratorResult<ExecutionResult>> {
    this.queue.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.queue.length = 0;
    this.end();
    return Promise.reject(error);
  }
}

/**
 * The group an operation may join: its subscription fields all declare shared delivery, and its text, operation
 * name, variables and reader are the same. Null when it must run on its own.
 */
function groupKey(args: ExecutionArgs, reader: string | null, shareable: SharedSubscriptionsOptions['shareable']): string | null {
  if (reader === null) return null;
  const operation = getOperationAST(args.document, args.operationName);
  const text = args.document.loc?.source.body;
  const fields = args.schema.getSubscriptionType()?.getFields();
  if (operation?.operation !== 'subscription' || !text || !fields) return null;
  const shared = operation.selectionSet.selections.every((selection) => {
    const field = selection.kind === Kind.FIELD ? fields[selection.name.value] : undefined;
    return field !== undefined && shareable(field);
  });
  return shared ? JSON.stringify([reader, text, args.operationName ?? null, args.variableValues ?? null]) : null;
}

export interface SharedSubscriptions extends Plugin {
  /** Groups being served. */
  groups(): number;
  /**
   * The JSON bytes of a message payload that is a shared result as it is (its `data` the same object, no errors),
   * serialized once for all the group's subscribers; undefined for any other payload.
   */
  payloadBytes(payload: unknown): Buffer | undefined;
}

export function useSharedSubscriptions({ shareable, readerOf, subscribeAs }: SharedSubscriptionsOptions): SharedSubscriptions {
  const groups = new Map<string, Group>();
  // A shared result by its `data` (a transport's message copies the result around the same `data`), and its JSON.
  const sharedByData = new WeakMap<object, ExecutionResult>();
  const bytes = new WeakMap<ExecutionResult, Buffer>();
  // The contexts of the groups' own subscriptions, which go through the rest of the pipeline.
  const sources = new WeakSet<object>();

  function close(group: Group): void {
    if (group.closed) return;
    group.closed = true;
    if (groups.get(group.key) === group) groups.delete(group.key);
    closeSource(group);
  }

  function closeSource(group: Group): void {
    // Not awaited: an async generator's return() waits for its pending next(), which may never come.
    void group.source?.return?.()?.catch(() => undefined);
  }

  async function pump(group: Group, source: Source): Promise<void> {
    let failure: unknown = null;
    try {
      for (;;) {
        const next = await source.next();
        if (next.done || group.closed) break;
        if (next.value.data && !next.value.errors) sharedByData.set(next.value.data, next.value);
        for (const subscriber of group.subscribers) subscriber.push(next.value);
      }
    } catch (error) {
      failure = error;
    }
    close(group);
    for (const subscriber of [...group.subscribers]) subscriber.end(failure);
  }

  function open(key: string, reader: string, args: ExecutionArgs): Group {
    const group: Group = { key, subscribers: new Set(), opened: null!, source: null, closed: false };
    group.opened = (async () => {
      try {
        const result = await subscribeAs(reader, args, (context) => sources.add(context));
        if (!isAsyncIterable(result)) {
          close(group);
          return result as ExecutionResult;
        }
        group.source = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        // Everyone left while it opened: closed now that there is a source to close.
        if (group.closed) closeSource(group);
        else void pump(group, group.source);
        return null;
      } catch (error) {
        close(group);
        throw error;
      }
    })();
    groups.set(key, group);
    return group;
  }

  async function join(key: string, reader: string, args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const group = groups.get(key) ?? open(key, reader, args);
    const subscriber = new Subscriber((leaving) => {
      group.subscribers.delete(leaving);
      if (group.subscribers.size === 0) close(group);
    });
    group.subscribers.add(subscriber);
    let refusal: ExecutionResult | null;
    try {
      refusal = await group.opened;
    } catch (error) {
      group.subscribers.delete(subscriber);
      throw error;
    }
    if (refusal === null) return subscriber;
    // A refusal (the subscribe resolver's error) is each joiner's own answer.
    group.subscribers.delete(subscriber);
    return refusal;
  }

  return {
    groups: () => groups.size,
    payloadBytes(payload) {
      const data = (payload as ExecutionResult | null)?.data;
      const result = data ? sharedByData.get(data) : undefined;
      if (!result || Object.keys(payload as object).length !== Object.keys(result).length) return undefined;
      let json = bytes.get(result);
      if (!json) bytes.set(result, (json = Buffer.from(JSON.stringify(result))));
      return json;
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (sources.has(args.contextValue as object)) return;
      const reader = readerOf(args.contextValue);
      const key = groupKey(args, reader, shareable);
      if (key === null) return;
      setResultAndStopExecution(join(key, reader!, args) as never);
    },
  };
}

/**
 * graphql-ws writes each message as JSON.stringify({ id, type, payload }) itself, so a shared result would be serialized
 * and UTF-8 encoded again for every subscriber. Its message replacer sees each message before it is serialized: for a
 * shared payload it has only `{"id":…,"type":"next"}` serialized and notes the payload's bytes, which the socket's send
 * (called right after, in the same turn) puts back in place as the message's last member. Nothing else changes: the
 * client reads the same JSON.
 */
export function sharedFrames(payloadBytes: (payload: unknown) => Buffer | undefined) {
  // The shared payload of the message just serialized, with the text that serialization produced.
  let pending: { head: string; payload: Buffer } | null = null;
  const PAYLOAD_KEY = Buffer.from(',"payload":');
  const END = Buffer.from('}');

  function replacer(this: unknown, key: string, value: unknown): unknown {
    if (key !== '') return value;
    pending = null;
    const message = value as { id?: unknown; type?: unknown; payload?: unknown } | null;
    const payload = message?.type === 'next' ? payloadBytes(message.payload) : undefined;
    if (!payload) return value;
    const head = { id: message!.id, type: message!.type };
    pending = { head: JSON.stringify(head), payload };
    return head;
  }

  class WebSocketWithSharedFrames extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      const shared = pending;
      pending = null;
      if (shared && data === shared.head) {
        const callback = rest.find((argument) => typeof argument === 'function') as ((error?: Error) => void) | undefined;
        const message = Buffer.concat([Buffer.from(shared.head.slice(0, -1)), PAYLOAD_KEY, shared.payload, END]);
        super.send(message, { binary: false }, callback);
        return;
      }
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }

  return { replacer, WebSocket: WebSocketWithSharedFrames };
}
