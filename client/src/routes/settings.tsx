// Notifications (Web Push, and the server's other channels) and pairing. Permission is asked only when the user turns
// notifications on.
import { useNavigate } from '@solidjs/router';
import { For, Show, createEffect, createSignal, on, type JSX } from 'solid-js';
import { offlineCache } from '../api/cache';
import { clearToken, errorMessage, getToken } from '../api/client';
import { createLive } from '../api/live';
import { createProjectsLive } from '../api/projects';
import {
  base64UrlToBytes,
  fetchNotificationDestinations,
  fetchPushDevice,
  fetchPushPublicKey,
  registerPushSubscription,
  testNotificationDestination,
  unregisterPushSubscription,
  updatePushSettings,
  type NotificationDestination,
} from '../api/push';
import { fetchSession } from '../api/session';
import { confirmAction } from '../components/dialog';
import { PageHeader } from '../components/page';
import { notify } from '../components/toast';
import { ago } from '../lib/format';

const pushSupported = () => typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function registration(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null;
  return (await navigator.serviceWorker.getRegistration()) ?? null;
}

function Notifications() {
  const projects = createProjectsLive();
  const [enabled, setEnabled] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [message, setMessage] = createSignal<string | null>(null);
  const [endpoint, setEndpoint] = createSignal<string | null>(null);
  const [pending, setPending] = createSignal('');
  const [muted, setMuted] = createSignal<number[]>([]);
  const [failedTasks, setFailedTasks] = createSignal(false);
  const [metricNan, setMetricNan] = createSignal(true);
  const [gpuIdle, setGpuIdle] = createSignal(true);
  const [requeued, setRequeued] = createSignal(true);
  const [timeLimit, setTimeLimit] = createSignal(false);
  // The wait after which a start is news (null: off), and the minutes typed for it, kept while it is off.
  const [startedAfter, setStartedAfter] = createSignal<number | null>(null);
  const [startedMinutes, setStartedMinutes] = createSignal('60');

  const settings = () => ({
    pendingAfterMinutes: pending().trim() === '' ? null : Number(pending()),
    mutedProjectIds: muted(),
    failedTaskPushes: failedTasks(),
    metricNanPushes: metricNan(),
    gpuIdlePushes: gpuIdle(),
    startedAfterWaitMinutes: startedAfter(),
    requeuePushes: requeued(),
    timeLimitPushes: timeLimit(),
  });
  const pendingValid = () => pending().trim() === '' || /^\d+$/.test(pending().trim());
  const startedValid = () => /^\d+$/.test(startedMinutes().trim()) && Number(startedMinutes()) >= 1;

  // This browser's subscription as the server knows it (none: notifications are off here). Its settings fill the
  // controls each time it is read; every change is saved as it is made, so a re-read shows the same.
  const device = createLive({
    key: () => pushSupported() && 'push-device',
    persist: false,
    load: async () => {
      const subscription = await (await registration())?.pushManager.getSubscription();
      return { device: subscription ? await fetchPushDevice(subscription.endpoint) : null };
    },
  });
  createEffect(
    on(device.value, (read) => {
      if (!read?.device) return;
      setEndpoint(read.device.endpoint);
      setPending(read.device.pendingAfterMinutes === null ? '' : String(read.device.pendingAfterMinutes));
      setMuted(read.device.mutedProjectIds);
      setFailedTasks(read.device.failedTaskPushes);
      setMetricNan(read.device.metricNanPushes);
      setGpuIdle(read.device.gpuIdlePushes);
      setStartedAfter(read.device.startedAfterWaitMinutes);
      setRequeued(read.device.requeuePushes);
      setTimeLimit(read.device.timeLimitPushes);
      if (read.device.startedAfterWaitMinutes !== null) setStartedMinutes(String(read.device.startedAfterWaitMinutes));
      setEnabled(true);
    }),
  );
  createEffect(() => {
    const failure = device.error();
    if (failure) setMessage(`Could not read this device’s notification settings: ${failure.message}`);
  });

  const turnOn = async () => {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      setMessage('Notifications are blocked for this app. Allow them in the browser’s site settings, then try again.');
      return false;
    }
    const worker = await registration();
    if (!worker) {
      setMessage('The app’s service worker is not installed yet: reload the page and try again.');
      return false;
    }
    const key = await fetchPushPublicKey();
    const subscription = (await worker.pushManager.getSubscription()) ?? (await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) }));
    const device = await registerPushSubscription(subscription, settings());
    setEndpoint(device.endpoint);
    return true;
  };

  const turnOff = async () => {
    const subscription = await (await registration())?.pushManager.getSubscription();
    const known = endpoint() ?? subscription?.endpoint;
    if (known) await unregisterPushSubscription(known);
    await subscription?.unsubscribe();
    setEndpoint(null);
    return true;
  };

  const toggle = async (on: boolean) => {
    setBusy(true);
    setMessage(null);
    try {
      const done = on ? await turnOn() : await turnOff();
      if (done) {
        setEnabled(on);
        notify(on ? 'Notifications are on for this device' : 'Notifications are off for this device');
      }
    } catch (error) {
      setMessage(errorMessage(error));
    } finally {
      setBusy(false);
    }
  };

  const save = async (change: Parameters<typeof updatePushSettings>[1]) => {
    const target = endpoint();
    if (!enabled() || !target) return;
    try {
      await updatePushSettings(target, change);
      notify('Saved');
    } catch (error) {
      notify(errorMessage(error), 'error');
    }
  };

  const toggleMute = (projectId: number, mute: boolean) => {
    setMuted((list) => (mute ? [...new Set([...list, projectId])] : list.filter((id) => id !== projectId)));
    void save({ mutedProjectIds: muted() });
  };

  return (
    <section class="card stack" aria-labelledby="notifications-title">
      <h2 id="notifications-title" class="section-title">
        Notifications
      </h2>
      <Show
        when={pushSupported()}
        fallback={<p class="muted">This browser cannot receive notifications here. On an iPhone, add Mission Control to the home screen first and open it from there.</p>}
      >
        <label class="check switch">
          <input type="checkbox" role="switch" checked={enabled()} disabled={busy()} onChange={(event) => void toggle(event.currentTarget.checked)} />
          Notifications
        </label>
        <p class="field-hint">
          When a job ends, when a sweep ends (one notification for the whole sweep), when a job or sweep is still pending after the time you choose, when a running job’s
          training goes wrong (below), and when a cluster needs you to log in again. Tapping one opens the job or sweep.
        </p>
        <Show when={message()}>
          <p class="warning" role="alert">
            {message()}
          </p>
        </Show>
        <div class="field">
          <label for="pending-minutes">Still pending after (minutes)</label>
          <input
            id="pending-minutes"
            type="text"
            inputmode="numeric"
            value={pending()}
            aria-invalid={pendingValid() ? undefined : 'true'}
            aria-describedby="pending-hint"
            onInput={(event) => setPending(event.currentTarget.value)}
            onChange={() => pendingValid() && void save({ pendingAfterMinutes: settings().pendingAfterMinutes })}
          />
          <span class="field-hint" id="pending-hint">
            Leave empty for no “still pending” notification.
          </span>
          <Show when={!pendingValid()}>
            <p class="field-error">a whole number of minutes</p>
          </Show>
        </div>
        <SwitchSetting
          id="failed-tasks"
          checked={failedTasks()}
          label="Also notify me of each failed sweep task"
          onChange={(on) => {
            setFailedTasks(on);
            void save({ failedTaskPushes: on });
          }}
        >
          At most 10 per sweep; the sweep’s end tells the rest. Tasks that complete never notify on their own.
        </SwitchSetting>
        <SwitchSetting
          id="metric-nan"
          checked={metricNan()}
          label="Notify me when a metric becomes NaN"
          onChange={(on) => {
            setMetricNan(on);
            void save({ metricNanPushes: on });
          }}
        >
          Once per job (also for infinity), naming the metrics and the step; a sweep notifies once, saying how many tasks diverged.
        </SwitchSetting>
        <SwitchSetting
          id="gpu-idle"
          checked={gpuIdle()}
          label="Notify me when a job’s GPUs sit idle"
          onChange={(on) => {
            setGpuIdle(on);
            void save({ gpuIdlePushes: on });
          }}
        >
          Once per running job whose every GPU stays under 10 % for 10 minutes; a sweep notifies once.
        </SwitchSetting>
        <SwitchSetting
          id="requeued"
          checked={requeued()}
          label="Notify me when a job is requeued"
          onChange={(on) => {
            setRequeued(on);
            void save({ requeuePushes: on });
          }}
        >
          Once per restart, whether its own script requeued it at its time limit, or preemption or an admin did; its end notifies at the real end.
        </SwitchSetting>
        <SwitchSetting
          id="time-limit"
          checked={timeLimit()}
          label="Notify me 15 minutes before a job’s time limit"
          onChange={(on) => {
            setTimeLimit(on);
            void save({ timeLimitPushes: on });
          }}
        >
          Once per running job without resume, at the moment SLURM will end it (its time limit, or the partition’s default when the launch gave none).
        </SwitchSetting>
        <SwitchSetting
          id="started-after-wait"
          checked={startedAfter() !== null}
          label="Notify me when a long-waiting job starts"
          onChange={(on) => {
            const minutes = on && startedValid() ? Number(startedMinutes()) : on ? 60 : null;
            setStartedAfter(minutes);
            if (minutes !== null) setStartedMinutes(String(minutes));
            void save({ startedAfterWaitMinutes: minutes });
          }}
        >
          Once per job that waited in the queue at least the minutes you choose (60 unless you change it); a sweep notifies once, when its first task starts.
        </SwitchSetting>
        <Show when={startedAfter() !== null}>
          <div class="field">
            <label for="started-after-minutes">Waited at least (minutes)</label>
            <input
              id="started-after-minutes"
              type="text"
              inputmode="numeric"
              value={startedMinutes()}
              aria-invalid={startedValid() ? undefined : 'true'}
              onInput={(event) => setStartedMinutes(event.currentTarget.value)}
              onChange={() => {
                if (!startedValid()) return;
                setStartedAfter(Number(startedMinutes()));
                void save({ startedAfterWaitMinutes: startedAfter() });
              }}
            />
            <Show when={!startedValid()}>
              <p class="field-error">a whole number of minutes, at least 1</p>
            </Show>
          </div>
        </Show>
        <fieldset>
          <legend>Mute projects</legend>
          <Show when={(projects.value() ?? []).length > 0} fallback={<p class="muted">No projects.</p>}>
            <For each={projects.value()}>
              {(project) => (
                <label class="check">
                  <input type="checkbox" checked={muted().includes(project.id)} onChange={(event) => toggleMute(project.id, event.currentTarget.checked)} />
                  Mute {project.name}
                </label>
              )}
            </For>
          </Show>
        </fieldset>
      </Show>
    </section>
  );
}

// The config's words for notices, as a person reads them.
const EVENT_WORDS: Record<string, string> = {
  jobEnd: 'job ends',
  sweepEnd: 'sweep ends',
  failedTask: 'failed sweep tasks',
  requeue: 'requeues',
  timeLimit: 'time limits',
  metricNan: 'NaN metrics',
  gpuIdle: 'idle GPUs',
  reauth: 'logins to renew',
};
const TYPE_WORDS: Record<string, string> = { ntfy: 'ntfy', webhook: 'Webhook', email: 'Email' };

/** The server's own channels (config: notifications.destinations), each with its last outcome and "Send a test". */
function Destinations() {
  const destinations = createLive({ key: () => 'notification-destinations', persist: false, load: fetchNotificationDestinations, itemKey: 'name' });
  const session = createLive({ key: () => 'session', persist: false, load: fetchSession });
  const [testing, setTesting] = createSignal<string | null>(null);
  const [outcomes, setOutcomes] = createSignal<Record<string, { ok: boolean; text: string }>>({});

  const sendTest = async (name: string) => {
    setTesting(name);
    try {
      const result = await testNotificationDestination(name);
      destinations.mutate((list) => list.map((entry) => (entry.name === name ? result.destination : entry)));
      setOutcomes((all) => ({ ...all, [name]: result.ok ? { ok: true, text: 'Test sent just now: check that it arrived.' } : { ok: false, text: `Test not sent: ${result.error}` } }));
    } catch (error) {
      setOutcomes((all) => ({ ...all, [name]: { ok: false, text: errorMessage(error) } }));
    } finally {
      setTesting(null);
    }
  };

  const lastOutcome = (destination: NotificationDestination) => {
    const failedLast = destination.lastFailureAt && (!destination.lastSuccessAt || destination.lastFailureAt > destination.lastSuccessAt);
    if (failedLast) return `Last try failed ${ago(destination.lastFailureAt)}: ${destination.lastError}`;
    return destination.lastSuccessAt ? `Last sent ${ago(destination.lastSuccessAt)}` : 'Nothing sent since the server started';
  };

  return (
    <section class="card stack" aria-labelledby="destinations-title" data-testid="destinations">
      <h2 id="destinations-title" class="section-title">
        Other channels
      </h2>
      <p class="field-hint">
        The server also sends notices to these: ntfy topics, chat webhooks and email, set in its config (notifications.destinations). They hear of the first admin's jobs (on a one-person server, all of them), whatever this device is set to.
      </p>
      <Show when={!destinations.error()} fallback={<p class="error">Could not ask the server: {destinations.error()?.message}</p>}>
        <Show when={destinations.value()} fallback={<p class="muted">Asking the server…</p>}>
          <Show when={(destinations.value() ?? []).length > 0} fallback={<p class="muted">None configured.</p>}>
            <ul class="destination-list">
              <For each={destinations.value()}>
                {(destination) => (
                  <li class="destination" data-testid={`destination-${destination.name}`}>
                    <div class="destination-head">
                      <strong>{destination.name}</strong>
                      <span class="muted">
                        {TYPE_WORDS[destination.type] ?? destination.type}
                        {destination.format ? ` (${destination.format})` : ''}
                      </span>
                    </div>
                    <p class="destination-target">{destination.target}</p>
                    <p class="field-hint">Hears {destination.events.map((event) => EVENT_WORDS[event] ?? event).join(', ')}</p>
                    {/* A test's outcome takes the place of the last outcome it just replaced. */}
                    <Show
                      when={outcomes()[destination.name]}
                      fallback={
                        <p classList={{ muted: !destination.lastError, warning: Boolean(destination.lastError) }} data-testid="destination-status">
                          {lastOutcome(destination)}
                        </p>
                      }
                    >
                      {(outcome) => (
                        <p role="status" class={outcome().ok ? 'tone-ok' : 'error'} data-testid="destination-test-outcome">
                          {outcome().text}
                        </p>
                      )}
                    </Show>
                    <div class="card-actions">
                      <button type="button" class="button" disabled={testing() !== null || session.value()?.readOnly === true} onClick={() => void sendTest(destination.name)}>
                        {testing() === destination.name ? 'Sending…' : 'Send a test'}
                      </button>
                    </div>
                  </li>
                )}
              </For>
            </ul>
            <Show when={session.value()?.readOnly}>
              <p class="field-hint">This device’s token is read-only: it cannot send a test.</p>
            </Show>
          </Show>
        </Show>
      </Show>
    </section>
  );
}

function Device() {
  const navigate = useNavigate();
  const session = createLive({ key: () => 'session', persist: false, load: fetchSession });
  const unpair = async () => {
    const sure = await confirmAction({
      title: 'Unpair this device?',
      body: 'It forgets its token and the data it kept for offline use. To use it again, pair it with a token or the pairing link.',
      confirm: 'Unpair',
      danger: true,
    });
    if (!sure) return;
    try {
      const subscription = await (await registration())?.pushManager.getSubscription();
      if (subscription) {
        await unregisterPushSubscription(subscription.endpoint).catch(() => undefined);
        await subscription.unsubscribe();
      }
    } catch {
      // Unpairing must not depend on push being reachable.
    }
    clearToken();
    offlineCache.clear();
    navigate('/pair', { replace: true });
  };
  return (
    <section class="card stack" aria-labelledby="device-title">
      <h2 id="device-title" class="section-title">
        This device
      </h2>
      <Show when={session.value() || session.error()} fallback={<p class="muted">Asking the server…</p>}>
        <Show when={!session.error()} fallback={<p class="error">Could not ask the server: {session.error()?.message}</p>}>
          <dl class="facts">
            <dt>Paired as</dt>
            <dd data-testid="token-name">{session.value()?.tokenName ?? (getToken() ? 'a token without a name' : 'not paired')}</dd>
            <dt>Access</dt>
            <dd>{session.value()?.readOnly ? 'read-only: can watch, cannot launch or cancel' : 'full: can launch, cancel and archive'}</dd>
            <Show when={session.value()?.authRequired === false}>
              <dt>Server</dt>
              <dd>accepts this device without a token</dd>
            </Show>
          </dl>
        </Show>
      </Show>
      <div class="card-actions">
        <Show when={getToken()} fallback={<a class="button" href="/pair">Pair with a token</a>}>
          <button type="button" class="button danger" onClick={unpair}>
            Unpair this device
          </button>
        </Show>
      </div>
    </section>
  );
}

export default function Settings() {
  return (
    <>
      <PageHeader title="Settings" />
      <div class="two-columns">
        <div class="stack">
          <Notifications />
          <Destinations />
        </div>
        <div class="stack">
          <Device />
          <p class="muted" data-testid="app-version">
            Mission Control app {typeof __MC_BUILD__ === 'string' ? __MC_BUILD__ : 'dev'}
          </p>
        </div>
      </div>
    </>
  );
}

/** A device setting switched on or off, with what it means beneath it. */
function SwitchSetting(props: { id: string; checked: boolean; label: string; onChange: (on: boolean) => void; children: JSX.Element }) {
  return (
    <div>
      <label class="check switch">
        <input type="checkbox" role="switch" checked={props.checked} aria-describedby={`${props.id}-hint`} onChange={(event) => props.onChange(event.currentTarget.checked)} />
        {props.label}
      </label>
      <span class="field-hint" id={`${props.id}-hint`}>
        {props.children}
      </span>
    </div>
  );
}
