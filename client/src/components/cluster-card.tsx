import { For, Show, createSignal } from 'solid-js';
import type { Cluster } from './api';

function reachability(cluster: Cluster): { label: string; tone: 'ok' | 'bad' | 'wait' } {
  if (cluster.reachable === null) return { label: 'Checking…', tone: 'wait' };
  if (!cluster.reachable) return { label: 'Unreachable', tone: 'bad' };
  return { label: cluster.latencyMs === null ? 'Reachable' : `Reachable · ${cluster.latencyMs} ms`, tone: 'ok' };
}

export function ClusterCard(props: { cluster: Cluster; onTest: (name: string) => Promise<void> }) {
  const [testing, setTesting] = createSignal(false);
  const status = () => reachability(props.cluster);
  const test = async () => {
    setTesting(true);
    try {
      await props.onTest(props.cluster.name);
    } finally {
      setTesting(false);
    }
  };
  return (
    <article class="card" aria-labelledby={`cluster-${props.cluster.name}`} data-cluster={props.cluster.name}>
      <header class="card-head">
        <h2 id={`cluster-${props.cluster.name}`}>{props.cluster.name}</h2>
        <span class={`badge badge-${status().tone}`} data-testid="reachability">
          {status().label}
        </span>
      </header>
      <p class="meta">
        <Show when={props.cluster.host}>{(host) => <span>{host()}</span>}</Show>
        <Show when={props.cluster.slurmVersion}>{(version) => <span>Slurm {version()}</span>}</Show>
      </p>
      <Show when={props.cluster.error}>{(error) => <p class="error" role="alert">{error()}</p>}</Show>
      <Show when={props.cluster.partitions.length > 0}>
        <ul class="partitions" aria-label={`Partitions of ${props.cluster.name}`}>
          <For each={props.cluster.partitions}>
            {(partition) => (
              <li class="partition" classList={{ down: !partition.available }}>
                <strong>
                  {partition.name}
                  {partition.isDefault ? ' (default)' : ''}
                </strong>
                <span>
                  {partition.nodes} node{partition.nodes === 1 ? '' : 's'}
                  {partition.available ? '' : ' · down'}
                </span>
                <span class="states">{partition.states.map((entry) => `${entry.nodes} ${entry.state}`).join(' · ')}</span>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <button type="button" class="button" onClick={test} disabled={testing()}>
        {testing() ? 'Testing…' : 'Test connection'}
      </button>
    </article>
  );
}
