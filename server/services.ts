// Every service, built once and handed around in one object. No DI container.
import type { EntityManager } from '@mikro-orm/sqlite';
import { createClusterService, type ClusterServiceOptions } from './clusters.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { createJobService, type JobServiceOptions } from './jobs.js';
import { createProjectService } from './projects.js';

export interface ServiceOptions {
  orm: Orm;
  config: Config;
  clusters?: Omit<ClusterServiceOptions, 'orm' | 'config'>;
  jobs?: Pick<JobServiceOptions, 'afterSbatch'>;
}

export function createServices({ orm, config, clusters: clusterOptions, jobs: jobOptions }: ServiceOptions) {
  const clusters = createClusterService({ orm, config, ...clusterOptions });
  const projects = createProjectService();
  const jobs = createJobService({ orm, clusters, projects, ...jobOptions });
  return {
    orm,
    clusters,
    projects,
    jobs,
    async applyConfig(next: Config) {
      await clusters.applyConfig(next);
    },
    async close() {
      await clusters.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;

/** What every resolver receives: one EntityManager fork per HTTP request or WebSocket operation. */
export interface Context {
  em: EntityManager;
  services: Services;
}
