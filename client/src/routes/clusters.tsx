import { For, Show, createSignal } from 'solid-js';
import { createClustersLive, createGpuLive, fetchGpuAvailability, type Cluster, type GpuAvailability } from '../api/clusters';
import { errorMessage } from '../api/client';
import { CLUSTER_GLYPH, ClusterTrouble, clusterStatus } from '../components/cluster-card';
import { DataNotice, PageHeader } from '../components/page';
import { notify } from '../components/toast';
import { useNow } from '../lib/clock';
import { ago, plural } from '../lib/format';

type GpuCounts = GpuAvailability['byType'][number];

/** free / allocated / stranded as shares of the total, in whole percents that add up to at most 100. */
export function barShares(counts: GpuCounts): { free: number; allocated: number; stranded: number } {
  if (counts.total <= 0) return { free: 0, allocated: 0, stranded: 0 };
  const share = (value: number) => Math.max(0, Math.min(100, (value / counts.total) * 100));
  return { free: share(counts.free), allocated: share(counts.allocated), stranded: share(counts.stranded) };
}

function Bar(props: { label: string; counts: GpuCounts }) {
  const shares = () => barShares(props.counts);
  return (
    <li>
      <div class="bar-label">
        <strong>{props.label}</strong>
        <span>
          {props.counts.free} free of {props.counts.total}
        </span>
      </div>
      <div
        class="bar"
        role="img"
        aria-label={`${props.label}: ${props.counts.free} free, ${props.counts.allocated} allocated, ${props.counts.stranded} stranded of ${props.counts.total}`}
      >
        <span class="free" style={{ width: `${shares().free}%` }} />
        <span class="allocated" style={{ width: `${shares().allocated}%` }} />
        <span class="stranded" style={{ width: `${shares().stranded}%` }} />
      </div>
      <div class="bar-numbers" aria-hidden="true">
        {props.counts.allocated} allocated · {props.counts.stranded} stranded
        {props.counts.pendingDemand > 0 ? ` · ${props.counts.pendingDemand} wanted by pending jobs` : ' · no pending demand'}
      </div>
    </li>
  );
}

function ClusterGpus(props: { cluster: Cluster }) {
  const gpus = createGpuLive(() => props.cluster.name);
  const now = useNow(1000);
  const [refreshing, setRefreshing] = createSignal(false);
  const limitedFor = () => {
    const until = gpus.value()?.refreshLimitedUntil;
    const seconds = until ? Math.ceil((new Date(until).getTime() - now()) / 1000) : 0;
    return seconds > 0 ? seconds : 0;
  };
  const refresh = async () => {
    setRefreshing(true);
    try {
      const fresh = await fetchGpuAvailability(props.cluster.name, true);
      gpus.mutate(() => fresh);
      if (fresh.refreshLimitedUntil) notify('Refreshed moments ago: showing those figures');
    } catch (error) {
      notify(errorMessage(error), 'error');
    } finally {
      setRefreshing(false);
    }
  };
  const status = () => clusterStatus(props.cluster);
  return (
    <article class="card" aria-labelledby={`gpus-${props.cluster.name}`} data-cluster={props.cluster.name}>
      <header class="card-head">
        <h2 id={`gpus-${props.cluster.name}`}>{props.cluster.name}</h2>
        <span class={`badge tone-${status().tone}`}>
          <span aria-hidden="true" class="glyph">
            {CLUSTER_GLYPH[status().tone]}
          </span>
          <span class="badge-text">{status().label}</span>
        </span>
      </header>
      <ClusterTrouble cluster={props.cluster} showError={false} />
      <DataNotice what="GPU availability" loading={gpus.loading()} hasValue={!!gpus.value()} error={gpus.error()} cachedAt={gpus.cachedAt()} />
      <Show when={gpus.value()}>
        {(availability) => (
          <>
            <p class="meta">
              <span data-testid="fetched-at">Read {ago(availability().fetchedAt, now())}</span>
              <Show when={availability().stale}>
                <span class="flag flag-warn">stale: {availability().lastError}</span>
              </Show>
            </p>
            <Show when={availability().byType.length > 0} fallback={<p class="muted">This cluster has no GPUs that take jobs.</p>}>
              <h3 class="section-title">By type</h3>
              <ul class="bars" aria-label={`GPUs by type on ${props.cluster.name}`}>
                <For each={availability().byType}>{(row) => <Bar label={row.type} counts={row} />}</For>
              </ul>
              <h3 class="section-title">By partition</h3>
              <ul class="bars" aria-label={`GPUs by partition on ${props.cluster.name}`}>
                <For each={availability().byPartition}>{(row) => <Bar label={`${row.partition} · ${row.type}`} counts={row} />}</For>
              </ul>
            </Show>
            <h3 class="section-title">Nodes with free GPUs</h3>
            <Show when={availability().nodesWithFreeGpus.length > 0} fallback={<p class="muted">None right now.</p>}>
              <ul class="node-list">
                <For each={availability().nodesWithFreeGpus}>
                  {(node) => (
                    <li>
                      <strong class="mono">{node.node}</strong>: {node.free} {node.type} free <span class="muted">({node.partitions.join(', ')})</span>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={availability().unavailableNodes.length > 0}>
              <h3 class="section-title">Out of service</h3>
              <ul class="node-list">
                <For each={availability().unavailableNodes}>
                  {(node) => (
                    <li>
                      <strong class="mono">{node.node}</strong> <span class="mono">{node.state}</span>: {plural(node.gpus, 'GPU')}
                      <Show when={node.reason}> · {node.reason}</Show>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </>
        )}
      </Show>
      <div class="card-actions">
        <button type="button" class="button" onClick={refresh} disabled={refreshing() || limitedFor() > 0} aria-label={`Refresh GPU availability of ${props.cluster.name}`}>
          {refreshing() ? 'Refreshing…' : limitedFor() > 0 ? `Refresh in ${limitedFor()} s` : 'Refresh'}
        </button>
      </div>
    </article>
  );
}

export default function Clusters() {
  const clusters = createClustersLive();
  return (
    <>
      <PageHeader title="GPU availability" />
      <ul class="legend" aria-label="Bar legend">
        <li>
          <span aria-hidden="true" class="swatch-free" />
          free
        </li>
        <li>
          <span aria-hidden="true" class="swatch-alloc" />
          allocated
        </li>
        <li>
          <span aria-hidden="true" class="swatch-stranded" />
          stranded (idle, but the node’s CPUs or memory are taken)
        </li>
        <li>
          <span aria-hidden="true" class="swatch-empty" />
          out of total
        </li>
      </ul>
      <DataNotice what="clusters" loading={clusters.loading()} hasValue={!!clusters.value()} error={clusters.error()} cachedAt={clusters.cachedAt()} onRetry={clusters.refetch} />
      <div class="cards">
        <For each={clusters.value()}>{(cluster) => <ClusterGpus cluster={cluster} />}</For>
      </div>
    </>
  );
}
