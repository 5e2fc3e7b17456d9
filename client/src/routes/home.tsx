import { For, Show, createMemo } from 'solid-js';
import { testClusterConnection, createClustersLive, createGpuLive, type Cluster } from '../api/clusters';
import { canChange, errorMessage } from '../api/client';
import { createHomeJobsLive } from '../api/jobs';
import { createProjectsLive } from '../api/projects';
import { createSweepLinesLive } from '../api/sweeps';
import { ClusterCard } from '../components/cluster-card';
import { JobRow } from '../components/job-row';
import { DataNotice, PageHeader } from '../components/page';
import { ProjectFlags } from '../components/project-flags';
import { SweepLine } from '../components/sweep-line';
import { notify } from '../components/toast';
import { shortSha } from '../lib/format';
import { countByCluster, latestByProject } from '../lib/job-list';

function LiveClusterCard(props: { cluster: Cluster; counts: { running: number; pending: number }; onTest: (name: string) => Promise<void> }) {
  const gpus = createGpuLive(() => props.cluster.name);
  return <ClusterCard cluster={props.cluster} counts={props.counts} gpus={gpus.value()} onTest={canChange() ? props.onTest : undefined} />;
}

const HOME_SWEEPS = 5;

export default function Home() {
  const clusters = createClustersLive();
  const projects = createProjectsLive();
  const jobs = createHomeJobsLive();
  const sweeps = createSweepLinesLive(() => undefined);
  // Each sweep is one line however many tasks it has: the newest few, running ones first.
  const sweepLines = createMemo(() => [...(sweeps.value() ?? [])].sort((a, b) => Number(b.endedAt === null) - Number(a.endedAt === null)).slice(0, HOME_SWEEPS));
  const counts = createMemo(() => countByCluster(jobs.value()?.active ?? []));
  const latest = createMemo(() => latestByProject(jobs.value()?.recent ?? [], 3));
  const running = () => (jobs.value()?.active ?? []).filter((job) => job.state === 'RUNNING' || job.state === 'COMPLETING');
  const pendingCount = () => (jobs.value()?.active ?? []).filter((job) => job.state === 'PENDING' || job.state === 'SUBMITTING').length;
  const projectName = (id: number) => projects.value()?.find((project) => project.id === id)?.name;

  const onTest = async (name: string) => {
    try {
      const updated = await testClusterConnection(name);
      clusters.mutate((list) => list.map((cluster) => (cluster.name === name ? updated : cluster)));
    } catch (error) {
      notify(errorMessage(error), 'error');
    }
  };

  return (
    <div class="home">
      <PageHeader title="Home" />
      <div class="home-grid">
        <section aria-labelledby="clusters-title" class="home-clusters">
          <h2 id="clusters-title" class="section-title">
            Clusters
          </h2>
          <DataNotice what="clusters" loading={clusters.loading()} hasValue={!!clusters.value()} error={clusters.error()} cachedAt={clusters.cachedAt()} onRetry={clusters.refetch} />
          <Show when={clusters.value()?.length === 0}>
            <p class="muted">No clusters configured. Add one to clusters.yaml; the server picks it up without a restart.</p>
          </Show>
          <div class="cards">
            <For each={clusters.value()}>
              {(cluster) => <LiveClusterCard cluster={cluster} counts={counts().get(cluster.name) ?? { running: 0, pending: 0 }} onTest={onTest} />}
            </For>
          </div>
        </section>

        <section aria-labelledby="running-title" class="home-running">
          <h2 id="running-title" class="section-title">
            My running jobs
          </h2>
          <DataNotice what="jobs" loading={jobs.loading()} hasValue={!!jobs.value()} error={jobs.error()} cachedAt={jobs.cachedAt()} onRetry={jobs.refetch} />
          <Show when={jobs.value()}>
            <Show when={running().length > 0} fallback={<p class="muted">Nothing running right now.</p>}>
              <ul class="job-list" aria-label="Running jobs">
                <For each={running()}>{(job) => <JobRow job={job} showProject={projectName(job.projectId)} />}</For>
              </ul>
            </Show>
            <Show when={pendingCount() > 0}>
              <p class="muted">{pendingCount()} more waiting in queues.</p>
            </Show>
          </Show>
        </section>

        <Show when={sweepLines().length > 0}>
          <section aria-labelledby="sweeps-title" class="home-sweeps">
            <h2 id="sweeps-title" class="section-title">
              Sweeps
            </h2>
            <ul class="job-list" aria-label="Sweeps">
              <For each={sweepLines()}>{(sweep) => <SweepLine sweep={sweep} showProject={projectName(sweep.projectId)} />}</For>
            </ul>
          </section>
        </Show>

        <section aria-labelledby="projects-title" class="home-projects">
          <h2 id="projects-title" class="section-title">
            Projects
          </h2>
          <DataNotice what="projects" loading={projects.loading()} hasValue={!!projects.value()} error={projects.error()} cachedAt={projects.cachedAt()} onRetry={projects.refetch} />
          <Show when={projects.value()?.length === 0}>
            <p class="muted">No projects yet. Add a local git repository with the addProject mutation (see the README).</p>
          </Show>
          <div class="cards">
            <For each={projects.value()}>
              {(project) => (
                <article class="card" aria-labelledby={`project-${project.id}`} data-project={project.name}>
                  <header class="card-head">
                    <h3 id={`project-${project.id}`}>
                      <a href={`/projects/${project.id}`}>{project.name}</a>
                    </h3>
                  </header>
                  <p class="meta">
                    <span class="mono">
                      {project.branch ?? 'detached'} @ {shortSha(project.headSha)}
                    </span>
                    <ProjectFlags project={project} />
                  </p>
                  <Show when={(latest().get(project.id) ?? []).length > 0} fallback={<p class="muted">No jobs yet.</p>}>
                    <ul class="job-list compact" aria-label={`Latest jobs of ${project.name}`}>
                      <For each={latest().get(project.id)}>{(job) => <JobRow job={job} />}</For>
                    </ul>
                  </Show>
                  <div class="card-actions">
                    <Show when={canChange()}>
                      <a class="button primary" href={`/projects/${project.id}/launch`} aria-label={`Launch ${project.name}`}>
                        Launch
                      </a>
                    </Show>
                    <a class="button" href={`/projects/${project.id}`} aria-label={`All jobs of ${project.name}`}>
                      All jobs
                    </a>
                    <a class="button" href={`/projects/${project.id}/lineage`} aria-label={`Lineage of ${project.name}`}>
                      Lineage
                    </a>
                  </div>
                </article>
              )}
            </For>
          </div>
        </section>
      </div>
    </div>
  );
}
