// Following one job or sweep to its end, for wait_for_jobs and for a subscribed resource: the GraphQL subscription the
// app uses (the poller's events, so watching costs the cluster nothing), subscribed before the first read so that an
// end between the two is not missed.
import { TERMINAL_STATES } from '../slurm/state.js';
import { ERROR_FIELDS, query, successOf, ToolError, type GraphQLGateway, type Origin } from './graphql.js';

export type WatchKind = 'job' | 'sweep';

/** What a watch reports of a job or a sweep: enough to say how it ended. */
export type Watched = Record<string, unknown> & { id: number };

const JOB_FIELDS = 'id state exitCode endedAt';
const SWEEP_FIELDS = 'id state endedAt counts { state count }';

const WATCHES = {
  job: {
    subscription: `subscription($id: Int!) { jobUpdated(jobIds: [$id]) { ${JOB_FIELDS} } }`,
    read: `query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { ${JOB_FIELDS} } } ${ERROR_FIELDS} } }`,
    field: 'job',
    event: 'jobUpdated',
    ended: (value: Watched) => (TERMINAL_STATES as ReadonlySet<string>).has(String(value.state)),
  },
  sweep: {
    subscription: `subscription($id: Int!) { sweepUpdated(sweepIds: [$id]) { ${SWEEP_FIELDS} } }`,
    read: `query($id: Int!) { sweep(id: $id) { ... on QuerySweepSuccess { data { ${SWEEP_FIELDS} } } ${ERROR_FIELDS} } }`,
    field: 'sweep',
    event: 'sweepUpdated',
    ended: (value: Watched) => Boolean(value.endedAt),
  },
} as const;

/** The job's or sweep's state now; a ToolError naming why when it cannot be read (NotFoundError: …). */
export async function readWatched(gateway: GraphQLGateway, origin: Origin, kind: WatchKind, id: number): Promise<{ value: Watched; ended: boolean }> {
  const watch = WATCHES[kind];
  const value = successOf<Watched>((await query(gateway, origin, watch.read, { id }))[watch.field]);
  return { value, ended: watch.ended(value) };
}

/**
 * Follows a job or a sweep until it ends (ended: true) or `signal` stops the watch (ended: false), with its last known
 * state; `onChange` hears each state, the first read's included.
 */
export async function watchUntilEnd(
  gateway: GraphQLGateway,
  origin: Origin,
  kind: WatchKind,
  id: number,
  signal: AbortSignal,
  onChange: (value: Watched) => void = () => {},
): Promise<{ ended: boolean; last: Watched | null }> {
  // Built before the first await: a stop that comes while subscribing or reading must still end the watch.
  const stopped = new Promise<'stopped'>((resolve) => {
    if (signal.aborted) resolve('stopped');
    else signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  if (signal.aborted) return { ended: false, last: null };
  const watch = WATCHES[kind];
  const events = await gateway.subscribe(origin, watch.subscription, { id });
  if (!(Symbol.asyncIterator in events)) throw new ToolError(events.errors?.map((error) => error.message).join('; ') ?? 'the subscription was refused');
  try {
    if (signal.aborted) return { ended: false, last: null };
    let { value: last, ended } = await readWatched(gateway, origin, kind, id);
    onChange(last);
    while (!ended) {
      const next = await Promise.race([events.next(), stopped]);
      if (next === 'stopped') return { ended: false, last };
      const value = (next.done ? undefined : (next.value.data as Record<string, Watched> | undefined)?.[watch.event]) ?? null;
      // A revoked token's stream ends with its reason; a server stopping ends it with none.
      if (!value) throw new ToolError((!next.done && next.value.errors?.map((error) => error.message).join('; ')) || `the server stopped following ${kind} ${id}`);
      last = value;
      ended = watch.ended(value);
      onChange(value);
    }
    return { ended: true, last };
  } finally {
    void events.return?.();
  }
}
