// Web Push settings of this device. Kept apart: nothing else in the app depends on it.
import { mutate, query, unwrap } from './client';
import { FailureFields, graphql, type ResultOf } from './graphql';

const PushDeviceFields = graphql(`
  fragment PushDevice on PushDevice @_unmask { endpoint pendingAfterMinutes mutedProjectIds failedTaskPushes metricNanPushes gpuIdlePushes startedAfterWaitMinutes requeuePushes timeLimitPushes createdAt }
`);

export type PushDevice = ResultOf<typeof PushDeviceFields>;

const PUBLIC_KEY = graphql(`query PushPublicKey { pushPublicKey }`);
const DEVICE = graphql(`query PushDevice($endpoint: String!) { pushDevice(endpoint: $endpoint) { ...PushDevice } }`, [PushDeviceFields]);
const REGISTER = graphql(
  `
  mutation RegisterPush($input: PushSubscriptionInput!) {
    registerPushSubscription(input: $input) { __typename ... on MutationRegisterPushSubscriptionSuccess { data { ...PushDevice } } ...Failure }
  }
`,
  [PushDeviceFields, FailureFields],
);
const UPDATE = graphql(
  `
  mutation UpdatePush($endpoint: String!, $pendingAfterMinutes: Int, $mutedProjectIds: [Int!], $failedTaskPushes: Boolean, $metricNanPushes: Boolean, $gpuIdlePushes: Boolean, $startedAfterWaitMinutes: Int, $requeuePushes: Boolean, $timeLimitPushes: Boolean) {
    updatePushSettings(
      endpoint: $endpoint
      pendingAfterMinutes: $pendingAfterMinutes
      mutedProjectIds: $mutedProjectIds
      failedTaskPushes: $failedTaskPushes
      metricNanPushes: $metricNanPushes
      gpuIdlePushes: $gpuIdlePushes
      startedAfterWaitMinutes: $startedAfterWaitMinutes
      requeuePushes: $requeuePushes
      timeLimitPushes: $timeLimitPushes
    ) {
      __typename ... on MutationUpdatePushSettingsSuccess { data { ...PushDevice } } ...Failure
    }
  }
`,
  [PushDeviceFields, FailureFields],
);
const UNREGISTER = graphql(
  `mutation UnregisterPush($endpoint: String!) { unregisterPushSubscription(endpoint: $endpoint) { __typename ... on MutationUnregisterPushSubscriptionSuccess { data } } }`,
);

export async function fetchPushPublicKey(): Promise<string> {
  return (await query(PUBLIC_KEY, {})).pushPublicKey;
}

export async function fetchPushDevice(endpoint: string): Promise<PushDevice | null> {
  return (await query(DEVICE, { endpoint })).pushDevice;
}

export interface PushSettings {
  pendingAfterMinutes: number | null;
  mutedProjectIds: number[];
  /** Also a notification for each failed task of a sweep; a sweep's end is one notification either way. */
  failedTaskPushes: boolean;
  /** A running job's metric became NaN or infinite (a sweep: once per metric). */
  metricNanPushes: boolean;
  /** All of a running job's GPUs idle for 10 minutes (a sweep: once). */
  gpuIdlePushes: boolean;
  /** A job that waited at least this many minutes starts (a sweep: its first task); null: never. */
  startedAfterWaitMinutes: number | null;
  /** A job put back in the queue under its SLURM id: once per restart. */
  requeuePushes: boolean;
  /** A running job without resume reaches its time limit in 15 minutes: once per job. */
  timeLimitPushes: boolean;
}

/** The subscription's keys as the server stores them (base64url, as PushSubscription.toJSON() gives them). */
export async function registerPushSubscription(subscription: PushSubscription, settings: PushSettings): Promise<PushDevice> {
  const json = subscription.toJSON() as { endpoint: string; keys?: { p256dh?: string; auth?: string } };
  const input = { endpoint: json.endpoint, p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '', ...settings };
  return unwrap((await mutate(REGISTER, { input })).registerPushSubscription, 'MutationRegisterPushSubscriptionSuccess');
}

/** Only the settings given change; `pendingAfterMinutes: null` turns the "still pending" notification off. */
export async function updatePushSettings(endpoint: string, settings: Partial<PushSettings>): Promise<PushDevice> {
  return unwrap((await mutate(UPDATE, { endpoint, ...settings })).updatePushSettings, 'MutationUpdatePushSettingsSuccess');
}

export async function unregisterPushSubscription(endpoint: string): Promise<boolean> {
  return unwrap((await mutate(UNREGISTER, { endpoint })).unregisterPushSubscription, 'MutationUnregisterPushSubscriptionSuccess');
}

/** VAPID keys travel as base64url; pushManager.subscribe wants the bytes. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

// The config's other channels (ntfy, webhooks, email): shown with their last outcome, each with "Send a test".
const DestinationFields = graphql(`
  fragment NotificationDestination on NotificationDestination @_unmask { name type target format events lastSuccessAt lastFailureAt lastError }
`);

export type NotificationDestination = ResultOf<typeof DestinationFields>;

const DESTINATIONS = graphql(`query NotificationDestinations { notificationDestinations { ...NotificationDestination } }`, [DestinationFields]);
const TEST_DESTINATION = graphql(
  `
  mutation TestNotificationDestination($name: String!) {
    testNotificationDestination(name: $name) {
      __typename ... on MutationTestNotificationDestinationSuccess { data { ok error destination { ...NotificationDestination } } } ...Failure
    }
  }
`,
  [DestinationFields, FailureFields],
);

export async function fetchNotificationDestinations(): Promise<NotificationDestination[]> {
  return (await query(DESTINATIONS, {})).notificationDestinations;
}

/** Sends one test message; resolves with whether it arrived and the destination's updated status. */
export async function testNotificationDestination(name: string): Promise<{ ok: boolean; error: string | null; destination: NotificationDestination }> {
  return unwrap((await mutate(TEST_DESTINATION, { name })).testNotificationDestination, 'MutationTestNotificationDestinationSuccess');
}
