// Usage analytics: GPU-hours per week, outcomes and queue waits (the Usage screen), and the recent queue waits the
// launch form shows beside each cluster and GPU type.
import { query, unwrap } from './client';
import { FailureFields, graphql, type ResultOf, type VariablesOf } from './graphql';
import { createLive } from './live';

const WaitFields = graphql(`
  fragment QueueWait on QueueWait @_unmask {
    cluster partition gpuType
    last7Days { jobs medianSeconds p90Seconds }
    last30Days { jobs medianSeconds p90Seconds }
  }
`);

const USAGE = graphql(
  `
  query Usage($from: DateTime!, $to: DateTime!, $groupBy: UsageGroupBy) {
    usage(from: $from, to: $to, groupBy: $groupBy) {
      __typename
      ... on QueryUsageSuccess {
        data {
          from to groupBy weeks
          gpuHours { week key gpuHours }
          outcomes { week key state jobs }
          groups { key label gpuHours ended completed successRate }
          waits { ...QueueWait }
          sacctReads { cluster readAt attemptedAt jobs error }
        }
      }
      ...Failure
    }
  }
`,
  [WaitFields, FailureFields],
);

const QUEUE_WAITS = graphql(`query QueueWaits { queueWaits { ...QueueWait } }`, [WaitFields]);

export type QueueWait = ResultOf<typeof WaitFields>;
export type UsageGroupBy = NonNullable<VariablesOf<typeof USAGE>['groupBy']>;

export async function fetchUsage(from: Date, to: Date, groupBy: UsageGroupBy) {
  return unwrap((await query(USAGE, { from: from.toISOString(), to: to.toISOString(), groupBy })).usage, 'QueryUsageSuccess');
}

export type Usage = Awaited<ReturnType<typeof fetchUsage>>;

export async function fetchQueueWaits(): Promise<QueueWait[]> {
  return (await query(QUEUE_WAITS, {})).queueWaits;
}

/** The Monday 00:00 UTC `weeks − 1` weeks before this week's: the range of the last `weeks` whole weeks, this one included. */
export function usageRange(weeks: number, now = new Date()): { from: Date; to: Date } {
  const day = 86_400_000;
  const today = Math.floor(now.getTime() / day) * day;
  // 1970-01-01 was a Thursday: (days + 3) % 7 is the days since Monday.
  const monday = today - (((today / day + 3) % 7) * day);
  return { from: new Date(monday - (weeks - 1) * 7 * day), to: new Date(today + day) };
}

/** The Usage screen's data for the last `weeks` weeks, grouped as asked; kept offline like every screen's. */
export function createUsageLive(weeks: () => number, groupBy: () => UsageGroupBy) {
  return createLive<Usage>({
    key: () => `usage:${weeks()}:${groupBy()}`,
    load: () => {
      const { from, to } = usageRange(weeks());
      return fetchUsage(from, to, groupBy());
    },
    itemKey: 'key',
  });
}

/** The queue waits for the launch form, read once per visit. */
export function createQueueWaitsLive() {
  return createLive<QueueWait[]>({ key: () => 'queue-waits', load: fetchQueueWaits, itemKey: 'cluster' });
}
