import { For, Match, Switch, createResource, onCleanup } from 'solid-js';
import { fetchClusters, testClusterConnection } from './api';
import { ClusterCard } from './cluster-card';

// While a cluster's first check is still running the server answers `reachable: null`; ask again shortly.
// (Live cluster status over a subscription replaces this in the live-status work.)
const RECHECK_MS = 3_000;

export function App() {
  const [clusters, { refetch, mutate }] = createResource(fetchClusters);
  let recheck: ReturnType<typeof setTimeout> | undefined;
  const scheduleRecheck = () => {
    clearTimeout(recheck);
    if (clusters()?.some((cluster) => cluster.reachable === null)) recheck = setTimeout(() => void refetch(), RECHECK_MS);
  };
  onCleanup(() => clearTimeout(recheck));

  const onTest = async (name: string) => {
    const updated = await testClusterConnection(name);
    mutate((current) => current?.map((cluster) => (cluster.name === name ? updated : cluster)));
  };

  return (
    <>
      <header class="top">
        <h1>Mission Control</h1>
      </header>
      <main>
        <section aria-labelledby="clusters-title">
          <h2 id="clusters-title" class="section-title">
            Clusters
          </h2>
          <Switch>
            <Match when={clusters.error}>
              <p class="error" role="alert">
                Could not reach the Mission Control server: {String(clusters.error?.message ?? clusters.error)}
              </p>
              <button type="button" class="button" onClick={() => void refetch()}>
                Retry
              </button>
            </Match>
            <Match when={clusters.loading && !clusters.latest}>
              <p class="muted">Loading clusters…</p>
            </Match>
            <Match when={clusters.latest?.length === 0}>
              <p class="muted">No clusters configured. Add one to clusters.yaml; the server picks it up without a restart.</p>
            </Match>
            <Match when={clusters.latest}>
              {(list) => {
                scheduleRecheck();
                return (
                  <div class="cards">
                    <For each={list()}>{(cluster) => <ClusterCard cluster={cluster} onTest={onTest} />}</For>
                  </div>
                );
              }}
            </Match>
          </Switch>
        </section>
      </main>
    </>
  );
}
