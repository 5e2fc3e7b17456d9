import { For, Show, createSignal } from 'solid-js';
import { readFragment, type FragmentOf, type ResultOf } from '../api/graphql';
import { ClusterCardFields, GpuSummaryFields } from './cluster-card.fragment';
import { ago, plural } from '../lib/format';
import { notify } from './toast';

export type ClusterTone = 'ok' | 'bad' | 'wait';

type StatusFields = Pick<ResultOf<typeof ClusterCardFields>, 'needsReauth' | 'reachable' | 'stale' | 'latencyMs'>;

/** One word for the cluster's state, most urgent first: a login to renew beats everything else. */
export function clusterStatus(cluster: StatusFields): { label: string; tone: ClusterTone } {
  if (cluster.needsReauth) return { label: 'Needs re-auth', tone: 'bad' };
  if (cluster.reachable === null) return { label: 'Checking…', tone: 'wait' };
  if (!cluster.reachable) return { label: 'Unreachable', tone: 'bad' };
  if (cluster.stale) return { label: 'Stale', tone: 'wait' };
  return { label: cluster.latencyMs === null ? 'Reachable' : `Reachable · ${cluster.latencyMs} ms`, tone: 'ok' };
}

type Help = NonNullable<ResultOf<typeof ClusterCardFields>['connectionHelp']>;

async function copyCommand(command: string, copied = 'Command copied'): Promise<void> {
  try {
    await navigator.clipboard.writeText(command);
    notify(copied);
  } catch {
    notify('Copying is not allowed here: select the command instead', 'error');
  }
}

/** A shell command that wraps between its words, never inside one: `--user` broken at its hyphens reads as `- -user`. */
function CommandText(props: { command: string }) {
  return (
    <code class="command">
      {props.command.split(' ').map((word, index) => (
        <>
          {index > 0 ? ' ' : ''}
          <span class="word">{word}</span>
        </>
      ))}
    </code>
  );
}

/** The link's host, so a person sees where it goes before opening it; null for anything but http(s). */
function linkHost(link: string): string | null {
  try {
    const url = new URL(link);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.host : null;
  } catch {
    return null;
  }
}

/** The cluster's own words on reaching it (its config's connectionHelp), for when it cannot be reached. */
function ConnectionHelpBox(props: { cluster: string; help: Help }) {
  // The server accepts only http(s) links; checked again here, since an href is where a script URL would run.
  const host = () => (props.help.link ? linkHost(props.help.link) : null);
  return (
    <section class="connection-help" aria-label={`How to reach ${props.cluster}`}>
      <p class="help-title">How to reach {props.cluster}</p>
      <Show when={props.help.vpn}>
        {(vpn) => (
          <>
            <p>Connect the server's machine to the VPN first:</p>
            <div class="command-row">
              <CommandText command={vpn()} />
              <button type="button" class="button small" onClick={() => copyCommand(vpn(), 'VPN command copied')} aria-label={`Copy the VPN command for ${props.cluster}`}>
                Copy
              </button>
            </div>
          </>
        )}
      </Show>
      <Show when={props.help.steps}>{(steps) => <p class="steps">{steps()}</p>}</Show>
      <Show when={host()}>
        {(shown) => (
          <a class="help-link" href={props.help.link!} target="_blank" rel="noopener noreferrer">
            Connection instructions <span class="link-host">({shown()})</span>
            <span aria-hidden="true"> ↗</span>
            <span class="visually-hidden"> (opens in a new tab)</span>
          </a>
        )}
      </Show>
    </section>
  );
}

/**
 * What is wrong with a cluster and what to do about it: the login command to run, the error, and while it cannot be
 * reached or needs a login, its own connection help. On its card and on the Clusters screen (where the push opens).
 */
export function ClusterTrouble(props: {
  cluster: FragmentOf<typeof ClusterCardFields>;
  /** false where the screen already shows the same error (the Clusters screen's GPU notice). */
  showError?: boolean;
}) {
  const cluster = () => readFragment(ClusterCardFields, props.cluster);
  return (
    <>
      <Show when={cluster().needsReauth}>
        {(command) => (
          <div class="reauth" role="alert">
            <p>The login expired. Run this in a terminal, then test the connection:</p>
            <div class="command-row">
              <CommandText command={command()} />
              <button type="button" class="button small" onClick={() => copyCommand(command())} aria-label={`Copy the re-authentication command for ${cluster().name}`}>
                Copy
              </button>
            </div>
          </div>
        )}
      </Show>
      <Show when={props.showError !== false && cluster().error}>
        {(error) => (
          <p class="error" role="alert">
            {error()}
          </p>
        )}
      </Show>
      <Show when={clusterStatus(cluster()).tone === 'bad' && cluster().connectionHelp}>
        {(help) => <ConnectionHelpBox cluster={cluster().name} help={help()} />}
      </Show>
    </>
  );
}

type Standing = ResultOf<typeof GpuSummaryFields>['standing'];
type GpuLimit = Standing['gpuLimits'][number];

const limitOwner = (limit: GpuLimit) => (limit.source === 'qos' ? `QOS ${limit.name}` : `account ${limit.name}`);

/**
 * What the card says of the user's standing, one phrase per fact, nothing for what the site did not let us read:
 * "Your fair share 0.82", "Your GPUs: 3 running, 2 pending of 8 allowed (QOS normal)", "At most 4 GPUs per job (QOS normal)".
 */
export function standingPhrases(standing: Standing): string[] {
  const phrases: string[] = [];
  const shares = standing.fairShare;
  if (shares.length === 1) phrases.push(`Your fair share ${shares[0]!.factor.toFixed(2)}`);
  else if (shares.length > 1) phrases.push(`Your fair share ${shares.map((share) => `${share.factor.toFixed(2)} (${share.account})`).join(', ')}`);
  // The limit the user is nearest to is the one that holds their next job back.
  const perUser = standing.gpuLimits.filter((limit) => limit.scope === 'perUser').sort((a, b) => a.gpus - a.running - (b.gpus - b.running));
  const nearest = perUser[0];
  if (nearest) phrases.push(`Your GPUs: ${nearest.running} running, ${nearest.pending} pending of ${nearest.gpus} allowed (${limitOwner(nearest)})`);
  else if (standing.gpusRunning + standing.gpusPending > 0) phrases.push(`Your GPUs: ${standing.gpusRunning} running, ${standing.gpusPending} pending`);
  const perJob = standing.gpuLimits.filter((limit) => limit.scope === 'perJob').sort((a, b) => a.gpus - b.gpus)[0];
  if (perJob) phrases.push(`At most ${plural(perJob.gpus, 'GPU')} per job (${limitOwner(perJob)})`);
  return phrases;
}

export const CLUSTER_GLYPH: Record<ClusterTone, string> = { ok: '●', wait: '◷', bad: '!' };

export function ClusterCard(props: {
  cluster: FragmentOf<typeof ClusterCardFields>;
  counts?: { running: number; pending: number };
  gpus?: FragmentOf<typeof GpuSummaryFields>;
  /** Absent for a read-only device: testing the connection is a change (it may reconnect). */
  onTest?: (name: string) => Promise<void>;
}) {
  const [testing, setTesting] = createSignal(false);
  const cluster = () => readFragment(ClusterCardFields, props.cluster);
  const gpus = () => (props.gpus ? readFragment(GpuSummaryFields, props.gpus) : undefined);
  const status = () => clusterStatus(cluster());
  const standing = () => {
    const figures = gpus();
    return figures ? standingPhrases(figures.standing) : [];
  };
  const test = async () => {
    setTesting(true);
    try {
      await props.onTest?.(cluster().name);
    } finally {
      setTesting(false);
    }
  };
  return (
    <article class="card" aria-labelledby={`cluster-${cluster().name}`} data-cluster={cluster().name}>
      <header class="card-head">
        <h3 id={`cluster-${cluster().name}`}>{cluster().name}</h3>
        <span class={`badge tone-${status().tone}`} data-testid="reachability">
          <span aria-hidden="true" class="glyph">
            {CLUSTER_GLYPH[status().tone]}
          </span>
          <span class="badge-text">{status().label}</span>
        </span>
      </header>
      <p class="meta">
        <Show when={cluster().host}>{(host) => <span>{host()}</span>}</Show>
        <Show when={cluster().slurmVersion}>{(version) => <span>Slurm {version()}</span>}</Show>
        <Show when={props.counts}>
          {(counts) => (
            <span data-testid="job-counts">
              {counts().running} running · {counts().pending} pending
            </span>
          )}
        </Show>
      </p>
      <ClusterTrouble cluster={props.cluster} />
      <Show when={cluster().stale && cluster().lastPollError}>
        <p class="warning">
          Job states are from {ago(cluster().lastPollAt)}: {cluster().lastPollError}
        </p>
      </Show>
      <Show when={gpus() && gpus()!.byType.length > 0}>
        <ul class="gpu-summary" aria-label={`Free GPUs on ${cluster().name}`}>
          <For each={gpus()!.byType}>
            {(gpu) => (
              <li>
                <strong>{gpu.type}</strong> {gpu.free} free of {gpu.total}
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={standing().length > 0}>
        <p class="meta" data-testid="standing">
          <For each={standing()}>{(phrase) => <span>{phrase}</span>}</For>
        </p>
      </Show>
      <Show when={cluster().partitions.length > 0}>
        <ul class="partitions" aria-label={`Partitions of ${cluster().name}`}>
          <For each={cluster().partitions}>
            {(partition) => (
              <li class="partition" classList={{ down: !partition.available }}>
                <strong>
                  {partition.name}
                  {partition.isDefault ? ' (default)' : ''}
                </strong>
                <span>
                  {plural(partition.nodes, 'node')}
                  {partition.available ? '' : ' · down'}
                </span>
                <span class="states">{partition.states.map((entry) => `${entry.nodes} ${entry.state}`).join(' · ')}</span>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={props.onTest}>
        <button type="button" class="button" onClick={test} disabled={testing()} aria-label={`Test connection to ${cluster().name}`}>
          {testing() ? 'Testing…' : 'Test connection'}
        </button>
      </Show>
    </article>
  );
}
