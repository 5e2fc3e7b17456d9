// One execution per group of identical subscriptions (issue 18): the plugin's own rules against a stream the test
// drives, then the real app over real WebSockets and SSE streams, where the groups form from what clients send.
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRow, insertProject } from '../../test/factories.js';
import { refuseStream } from '../../test/fake-transport.js';
import { createTestToken } from '../../test/graphql-client.js';
import { overSse, overWebSocket, type Listener } from '../../test/subscription-listeners.js';
import { WebSocket } from 'ws';
import { createApp } from './app.js';
import { MAX_WAITING, SlowSubscriberError, useSharedSubscriptions } from './shared-subscriptions.js';
import { clusterConfig, type Config } from '../config.js';
import type { Project } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { snapshot } from '../jobs/transitions.js';
import { createServices, type Services } from '../services.js';

/** A source stream the test feeds, which says whether it was closed. */
function channel() {
  const queue: ExecutionResult[] = [];
  let waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  let failWaiting: ((error: unknown) => void) | null = null;
  const state = { returned: false };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => iterator,
    next: () => {
      const queued = queue.shift();
      if (queued) return Promise.resolve({ value: queued, done: false });
      if (state.returned) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => ((waiting = resolve), (failWaiting = reject)));
    },
    return: () => {
      state.returned = true;
      waiting?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
  };
  return {
    iterator,
    state,
    push(value: ExecutionResult) {
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value, done: false });
      } else queue.push(value);
    },
    fail(error: unknown) {
      failWaiting?.(error);
    },
  };
}

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: { tick: { type: GraphQLInt, args: { every: { type: GraphQLInt } }, extensions: { shared: true } }, replay: { type: GraphQLInt } },
  }),
});

describe('shared subscriptions, the plugin', () => {
  function setup(open: () => unknown = () => undefined) {
    const sources: Array<ReturnType<typeof channel>> = [];
    const opened: Array<{ reader: string; context: object }> = [];
    const plugin = useSharedSubscriptions({
      shareable: (field) => field.extensions?.shared === true,
      readerOf: (context) => (context as { reader?: string }).reader ?? null,
      async subscribeAs(reader, _args, markSource) {
        const context = { source: true };
        markSource(context);
        opened.push({ reader, context });
        const refusal = open();
        if (refusal) return refusal;
        const source = channel();
        sources.push(source);
        return source.iterator;
      },
    });
    /** What the plugin answers a subscriber with, or null when it lets the operation run on its own. */
    async function subscribe(query: string, context: object, variableValues?: Record<string, unknown>): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult | null> {
      let result: unknown = null;
      const args = { schema, document: parse(query), contextValue: context, variableValues } as ExecutionArgs;
      plugin.onSubscribe!({ args, setResultAndStopExecution: (value: unknown) => (result = value) } as never);
      return (await result) as AsyncIterableIterator<ExecutionResult> | ExecutionResult | null;
    }
    const stream = async (query: string, context: object, variableValues?: Record<string, unknown>) => (await subscribe(query, context, variableValues)) as AsyncIterableIterator<ExecutionResult>;
    return { plugin, sources, opened, subscribe, stream };
  }
  const event = (n: number): ExecutionResult => ({ data: { tick: n } });

  it('opens one subscription for identical ones and hands each of them the same result', async () => {
    const { plugin, sources, opened, stream } = setup();
    const subscribers = await Promise.all(Array.from({ length: 5 }, (_, index) => stream('subscription { tick(every: 2) }', { reader: 'owner', token: index })));
    expect(opened.map((open) => open.reader)).toEqual(['owner']);
    expect(plugin.groups()).toBe(1);
    const sent = event(1);
    sources[0]!.push(sent);
    for (const subscriber of subscribers) expect((await subscriber.next()).value).toBe(sent);
  });

  it('another reader, other variables or another document is another group; a field without shared delivery runs alone', async () => {
    const { plugin, opened, subscribe, stream } = setup();
    await stream('subscription { tick(every: 2) }', { reader: 'ana' });
    await stream('subscription { tick(every: 2) }', { reader: 'ben' });
    await stream('subscription($every: Int) { tick(every: $every) }', { reader: 'ana' }, { every: 2 });
    await stream('subscription($every: Int) { tick(every: $every) }', { reader: 'ana' }, { every: 3 });
    await stream('subscription { tick(every: 2) }', { reader: 'ana' });
    expect(opened.map((open) => open.reader)).toEqual(['ana', 'ben', 'ana', 'ana']);
    expect(plugin.groups()).toBe(4);
    expect(await subscribe('subscription { replay }', { reader: 'ana' })).toBeNull();
    expect(await subscribe('subscription { tick replay }', { reader: 'ana' })).toBeNull();
    // No reader (no session): nobody to share with.
    expect(await subscribe('subscription { tick }', {})).toBeNull();
    expect(plugin.groups()).toBe(4);
  });

  it("lets the group's own subscription through to the rest of the pipeline", async () => {
    const { opened, subscribe } = setup();
    await subscribe('subscription { tick }', { reader: 'owner' });
    expect(await subscribe('subscription { tick }', opened[0]!.context)).toBeNull();
  });

  it('stops delivering to a subscriber at once when it leaves, and closes the group when the last one leaves', async () => {
    const { plugin, sources, stream } = setup();
    const [leaving, staying] = [await stream('subscription { tick }', { reader: 'owner' }), await stream('subscription { tick }', { reader: 'owner' })];
    sources[0]!.push(event(1));
    await Promise.resolve();
    // Queued but not yet read: leaving drops it too.
    await leaving.return!();
    sources[0]!.push(event(2));
    expect(await leaving.next()).toEqual({ value: undefined, done: true });
    expect((await staying.next()).value).toEqual(event(1));
    expect((await staying.next()).value).toEqual(event(2));
    expect(sources[0]!.state.returned).toBe(false);
    await staying.return!();
    expect(sources[0]!.state.returned).toBe(true);
    expect(plugin.groups()).toBe(0);
    // A newcomer after that opens a new one.
    await stream('subscription { tick }', { reader: 'owner' });
    expect(sources).toHaveLength(2);
  });

  it(`ends a subscriber that falls ${MAX_WAITING} events behind, and only that one`, async () => {
    const { sources, stream } = setup();
    const [stuck, reading] = [await stream('subscription { tick }', { reader: 'owner' }), await stream('subscription { tick }', { reader: 'owner' })];
    const read: unknown[] = [];
    for (let n = 0; n <= MAX_WAITING; n++) {
      sources[0]!.push(event(n));
      read.push((await reading.next()).value);
    }
    expect(read).toHaveLength(MAX_WAITING + 1);
    // What it had waiting is still its own, then the reason it ended.
    for (let n = 0; n < MAX_WAITING; n++) expect((await stuck.next()).value).toEqual(event(n));
    await expect(stuck.next()).rejects.toBeInstanceOf(SlowSubscriberError);
    sources[0]!.push(event(-1));
    expect((await reading.next()).value).toEqual(event(-1));
  });

  it("passes the source's end and its failure to every subscriber, after what they had waiting", async () => {
    const { plugin, sources, stream } = setup();
    const subscribers = [await stream('subscription { tick }', { reader: 'owner' }), await stream('subscription { tick }', { reader: 'owner' })];
    sources[0]!.push(event(1));
    await Promise.resolve();
    sources[0]!.fail(new Error('the event bus broke'));
    for (const subscriber of subscribers) {
      expect((await subscriber.next()).value).toEqual(event(1));
      await expect(subscriber.next()).rejects.toThrow('the event bus broke');
    }
    expect(plugin.groups()).toBe(0);
  });

  it("answers each joiner with the subscription's refusal, and keeps no group for it", async () => {
    const refusal: ExecutionResult = { errors: [] };
    const { plugin, subscribe } = setup(() => refusal);
    expect(await Promise.all([subscribe('subscription { tick }', { reader: 'owner' }), subscribe('subscription { tick }', { reader: 'owner' })])).toEqual([refusal, refusal]);
    expect(plugin.groups()).toBe(0);
  });
});

describe('shared subscriptions, the app over WebSockets and SSE', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let url: string;
  let projects: Project[];
  let tokens: { full: string; readOnly: string };
  /** How many times the app opened a subscription to jobs' changes on the event bus. */
  let busSubscriptions = 0;
  const listeners: Listener[] = [];

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const config: Config = { file: 'test.yaml', clusters: [clusterConfig('alpha', { host: 'alpha.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })] };
    services = createServices({
      orm,
      config,
      clusters: { transportFactory: () => ({ exec: async () => ({ stdout: '', stderr: '', exitCode: 0, durationMs: 1 }), close: async () => undefined, stream: refuseStream }) },
    });
    const subscribe = services.events.subscribe.bind(services.events);
    services.events.subscribe = ((...args: Parameters<typeof subscribe>) => {
      if (args[0] === 'job:updated') busSubscriptions++;
      return subscribe(...args);
    }) as typeof subscribe;
    app = createApp({ services });
    url = await app.start(0, '127.0.0.1');
    projects = [await insertProject(orm.em.fork(), 'vision'), await insertProject(orm.em.fork(), 'speech')];
    tokens = { full: await createTestToken(services, { name: 'laptop' }), readOnly: await createTestToken(services, { name: 'phone', readOnly: true }) };
  });
  afterAll(async () => {
    for (const listener of listeners) listener.stop();
    await app.stop();
    await services.close();
    await orm.close();
  });

  async function listen(over: typeof overWebSocket, token: string, variables?: Record<string, unknown>): Promise<Listener> {
    const listener = await over(url, token, { query: 'subscription($projectId: Int) { jobUpdated(projectId: $projectId) { id state name } }', variables });
    listeners.push(listener);
    return listener;
  }

  /** A job of the project changes, as the poller announces it. */
  async function change(project: Project): Promise<number> {
    const em = orm.em.fork();
    const job = createJobRow(em, { cluster: 'alpha', projectId: project.id, state: 'RUNNING' });
    await em.flush();
    services.events.publish('job:updated', snapshot(job));
    return job.id;
  }

  it('serves identical subscriptions from any token and transport with one execution per change', async () => {
    const before = busSubscriptions;
    const all = [
      ...(await Promise.all(Array.from({ length: 20 }, (_, index) => listen(overWebSocket, index % 2 ? tokens.readOnly : tokens.full, { projectId: projects[0]!.id })))),
      await listen(overSse, tokens.full, { projectId: projects[0]!.id }),
      await listen(overSse, tokens.readOnly, { projectId: projects[0]!.id }),
    ];
    // Subscribed once all of them are: each stream is open when its first event can reach it.
    await expect.poll(() => busSubscriptions - before).toBe(1);
    expect(app.subscriptionGroups()).toBe(1);
    const id = await change(projects[0]!);
    for (const listener of all) await expect.poll(() => listener.events.map((event) => event.id)).toEqual([id]);
    expect(all.flatMap((listener) => listener.errors)).toEqual([]);
    for (const listener of all) listener.stop();
    await expect.poll(() => app.subscriptionGroups()).toBe(0);
  });

  it("groups by variables: a project's subscribers hear only its jobs", async () => {
    const vision = [await listen(overWebSocket, tokens.full, { projectId: projects[0]!.id }), await listen(overSse, tokens.readOnly, { projectId: projects[0]!.id })];
    const speech = [await listen(overWebSocket, tokens.full, { projectId: projects[1]!.id }), await listen(overSse, tokens.full, { projectId: projects[1]!.id })];
    await expect.poll(() => app.subscriptionGroups()).toBe(2);
    const visionJob = await change(projects[0]!);
    const speechJob = await change(projects[1]!);
    for (const listener of vision) await expect.poll(() => listener.events.map((event) => event.id)).toEqual([visionJob]);
    for (const listener of speech) await expect.poll(() => listener.events.map((event) => event.id)).toEqual([speechJob]);
    for (const listener of [...vision, ...speech]) listener.stop();
    await expect.poll(() => app.subscriptionGroups()).toBe(0);
  });

  it('stops delivering to a subscriber that leaves while the rest of its group still hears every change', async () => {
    const [leaving, stayingSocket, stayingStream] = [
      await listen(overWebSocket, tokens.full),
      await listen(overWebSocket, tokens.readOnly),
      await listen(overSse, tokens.full),
    ];
    await expect.poll(() => app.subscriptionGroups()).toBe(1);
    const first = await change(projects[0]!);
    for (const listener of [leaving, stayingSocket, stayingStream]) await expect.poll(() => listener.events.length).toBe(1);
    leaving.stop();
    await expect.poll(() => leaving.ended).not.toBeNull();
    const second = await change(projects[1]!);
    for (const listener of [stayingSocket, stayingStream]) await expect.poll(() => listener.events.map((event) => event.id)).toEqual([first, second]);
    expect(leaving.events.map((event) => event.id)).toEqual([first]);
    stayingSocket.stop();
    stayingStream.stop();
    await expect.poll(() => app.subscriptionGroups()).toBe(0);
  });
});

describe('shared subscriptions, the bytes on a WebSocket', () => {
  it('sends each subscriber the JSON graphql-ws would have sent, its payload serialized once', async () => {
    const orm = await initOrm(':memory:');
    const services = createServices({ orm, config: { file: 'test.yaml', clusters: [] } });
    const app = createApp({ services, access: { allowWithoutToken: true } });
    const url = await app.start(0, '127.0.0.1');
    const project = await insertProject(orm.em.fork());
    const stringify = JSON.stringify;
    let serializedPayloads = 0;
    try {
      // Raw sockets, to see the text itself: graphql-transport-ws by hand.
      const frames = await Promise.all(
        [1, 2, 3].map(
          (n) =>
            new Promise<{ socket: WebSocket; messages: string[] }>((resolve) => {
              const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
              const messages: string[] = [];
              socket.on('message', (data) => {
                const text = String(data);
                messages.push(text);
                if (JSON.parse(text).type === 'connection_ack') {
                  socket.send(stringify({ id: `sub-${n}`, type: 'subscribe', payload: { query: 'subscription { jobUpdated { id state name cluster } }' } }));
                  resolve({ socket, messages });
                }
              });
              socket.on('open', () => socket.send(stringify({ type: 'connection_init' })));
            }),
        ),
      );
      await expect.poll(() => app.subscriptionGroups()).toBe(1);
      // Every serialization that wrote the event's payload, whoever made it.
      JSON.stringify = ((...args: unknown[]) => {
        const text = (stringify as (...args: unknown[]) => string)(...args);
        if (text?.includes('"jobUpdated"')) serializedPayloads++;
        return text;
      }) as typeof JSON.stringify;
      const em = orm.em.fork();
      const job = createJobRow(em, { cluster: 'alpha', projectId: project.id, state: 'RUNNING', name: 'ünïcode — "quoted" \\ name' });
      await em.flush();
      services.events.publish('job:updated', snapshot(job));
      for (const { messages } of frames) await expect.poll(() => messages.length).toBe(2);
      JSON.stringify = stringify;
      const expected = { data: { jobUpdated: { id: job.id, state: 'RUNNING', name: job.name, cluster: 'alpha' } } };
      frames.forEach(({ messages }, index) => expect(messages[1]).toBe(stringify({ id: `sub-${index + 1}`, type: 'next', payload: expected })));
      // Once for the three, not once each.
      expect(serializedPayloads).toBe(1);
      for (const { socket } of frames) socket.close();
    } finally {
      JSON.stringify = stringify;
      await app.stop();
      await services.close();
      await orm.close();
    }
  });
});
