import { useParams, useSearchParams } from '@solidjs/router';
import { For, Show, createMemo, createSignal, onCleanup } from 'solid-js';
import { createClustersLive } from '../api/clusters';
import { canChange, errorMessage } from '../api/client';
import { createLive } from '../api/live';
import { fetchJobs, onJobUpdated, type JobFilter, type JobSummary } from '../api/jobs';
import { createProjectLive, syncProject } from '../api/projects';
import { createSweepLinesLive } from '../api/sweeps';
import { JobActionsMenu } from '../components/job-actions';
import { CompareBar, createCompareSelection } from '../components/compare-picker';
import { JobRow } from '../components/job-row';
import { DataNotice, PageHeader } from '../components/page';
import { ProjectFlags } from '../components/project-flags';
import { Select } from '../components/select';
import { SweepLine } from '../components/sweep-line';
import { notify } from '../components/toast';
import { COMPARE_MIN } from '../lib/compare';
import { shortSha } from '../lib/format';
import { STATE_FILTERS, applyJobUpdate, jobMatches } from '../lib/job-list';

const PAGE = 50;

export default function Project() {
  const params = useParams<{ id: string }>();
  const [search, setSearch] = useSearchParams<{ state?: string; cluster?: string; q?: string; archived?: string }>();
  const id = () => (/^\d+$/.test(params.id) ? Number(params.id) : null);
  const project = createProjectLive(id);
  const clusters = createClustersLive();
  const sweeps = createSweepLinesLive(id);
  const [text, setText] = createSignal(search.q ?? '');
  const [loadingMore, setLoadingMore] = createSignal(false);
  const [syncing, setSyncing] = createSignal(false);
  const compare = createCompareSelection();

  // The text filter is sent after a pause in typing, not on every key.
  let debounce: ReturnType<typeof setTimeout> | undefined;
  const onText = (value: string) => {
    setText(value);
    clearTimeout(debounce);
    debounce = setTimeout(() => setSearch({ q: value.trim() || undefined }, { replace: true }), 300);
  };
  onCleanup(() => clearTimeout(debounce));

  const filter = createMemo((): JobFilter => {
    const states = STATE_FILTERS[search.state ?? 'all']?.states ?? [];
    return {
      projectId: id() ?? undefined,
      states: states.length ? states : undefined,
      cluster: search.cluster || undefined,
      search: search.q || undefined,
      archived: search.archived === '1' ? undefined : false,
    };
  });

  const jobs = createLive({
    key: () => id() !== null && `project-jobs:${JSON.stringify(filter())}`,
    load: () => fetchJobs(filter(), PAGE),
    live: (update) => {
      const projectId = id();
      if (projectId === null) return;
      const current = filter();
      return onJobUpdated({ projectId }, (job) => update((page) => ({ ...page, nodes: applyJobUpdate(page.nodes, job, { matches: (entry) => jobMatches(current, entry) }) })));
    },
  });

  const loadMore = async () => {
    const page = jobs.value();
    if (!page?.pageInfo.endCursor) return;
    setLoadingMore(true);
    try {
      const next = await fetchJobs(filter(), PAGE, page.pageInfo.endCursor);
      jobs.mutate((current) => ({ nodes: [...current.nodes, ...next.nodes.filter((job) => !current.nodes.some((entry) => entry.id === job.id))], pageInfo: next.pageInfo }));
    } catch (error) {
      notify(errorMessage(error), 'error');
    } finally {
      setLoadingMore(false);
    }
  };

  // An archived job leaves a list that hides archived ones; other changes show in place.
  const onRowChange = (changed: JobSummary) =>
    jobs.mutate((current) => ({
      ...current,
      nodes: changed.archived && filter().archived === false ? current.nodes.filter((entry) => entry.id !== changed.id) : current.nodes.map((entry) => (entry.id === changed.id ? { ...entry, ...changed } : entry)),
    }));

  const sync = async () => {
    setSyncing(true);
    try {
      const updated = await syncProject(id()!);
      project.mutate(() => updated);
      notify(`Read ${updated.name} again: ${updated.branch ?? 'detached'} @ ${shortSha(updated.headSha)}`);
    } catch (error) {
      notify(errorMessage(error), 'error');
    } finally {
      setSyncing(false);
    }
  };

  return (
    <>
      <PageHeader title={project.value()?.name ?? `Project ${params.id}`} back={{ href: '/', label: 'Home' }}>
        <Show when={canChange()}>
          <a class="button primary" href={`/projects/${params.id}/launch`}>
            Launch
          </a>
        </Show>
      </PageHeader>
      <DataNotice what="the project" loading={project.loading()} hasValue={!!project.value()} error={project.error()} cachedAt={project.cachedAt()} onRetry={project.refetch} />
      <Show when={project.value()}>
        {(value) => (
          <div class="card">
            <p class="meta">
              <span class="mono">
                {value().branch ?? 'detached'} @ {shortSha(value().headSha)}
              </span>
              <span>{value().headSubject}</span>
              <ProjectFlags project={value()} />
            </p>
            <div class="card-actions">
              <a class="button" href={`/projects/${params.id}/lineage`}>
                Lineage
              </a>
              <Show when={canChange()}>
                <button type="button" class="button" onClick={sync} disabled={syncing()}>
                  {syncing() ? 'Reading…' : 'Read repository again'}
                </button>
              </Show>
            </div>
          </div>
        )}
      </Show>

      <Show when={(sweeps.value()?.length ?? 0) > 0}>
        <h2 class="section-title" id="sweeps-title">
          Sweeps
        </h2>
        <ul class="job-list" aria-labelledby="sweeps-title">
          <For each={sweeps.value()}>{(sweep) => <SweepLine sweep={sweep} />}</For>
        </ul>
      </Show>

      <h2 class="section-title">Jobs</h2>
      <form class="filters" role="search" aria-label="Filter jobs" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="filter-text">Search name or description</label>
          <input id="filter-text" type="search" value={text()} onInput={(event) => onText(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="filter-state">State</label>
          <Select
            id="filter-state"
            value={search.state ?? 'all'}
            options={Object.entries(STATE_FILTERS).map(([key, entry]) => ({ value: key, label: entry.label }))}
            onValue={(value) => setSearch({ state: value === 'all' ? undefined : value }, { replace: true })}
          />
        </div>
        <div class="field">
          <label for="filter-cluster">Cluster</label>
          <Select
            id="filter-cluster"
            value={search.cluster ?? ''}
            options={[{ value: '', label: 'All clusters' }, ...(clusters.value() ?? []).map((cluster) => ({ value: cluster.name, label: cluster.name }))]}
            onValue={(value) => setSearch({ cluster: value || undefined }, { replace: true })}
          />
        </div>
        <label class="check">
          <input type="checkbox" checked={search.archived === '1'} onChange={(event) => setSearch({ archived: event.currentTarget.checked ? '1' : undefined }, { replace: true })} />
          Show archived jobs
        </label>
      </form>

      <DataNotice what="jobs" loading={jobs.loading()} hasValue={!!jobs.value()} error={jobs.error()} cachedAt={jobs.cachedAt()} onRetry={jobs.refetch} />
      <Show when={jobs.value()}>
        {(page) => (
          <>
            <Show when={page().nodes.length > 0} fallback={<p class="muted">No jobs{search.state || search.cluster || search.q ? ' match these filters' : ': launch one'}.</p>}>
              <Show when={page().nodes.length >= COMPARE_MIN}>
                <CompareBar selection={compare} noun="jobs" />
              </Show>
              <ul class="job-list" aria-label="Jobs">
                <For each={page().nodes}>
                  {(job) => (
                    <JobRow job={job} compare={compare}>
                      <JobActionsMenu job={job} onChange={onRowChange} />
                    </JobRow>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={page().pageInfo.hasNextPage}>
              <button type="button" class="button load-more" onClick={loadMore} disabled={loadingMore()}>
                {loadingMore() ? 'Loading…' : 'Show older jobs'}
              </button>
            </Show>
          </>
        )}
      </Show>
    </>
  );
}
