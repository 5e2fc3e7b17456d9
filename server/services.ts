// Every service, built once and handed around in one object. No DI container.
import type { EntityManager } from '@mikro-orm/sqlite';
import { createClusterService, type ClusterServiceOptions } from './clusters.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';

export interface ServiceOptions {
  orm: Orm;
  config: Config;
  clusters?: Omit<ClusterServiceOptions, 'orm' | 'config'>;
}

export function createServices({ orm, config, clusters: clusterOptions }: ServiceOptions) {
  const clusters = createClusterService({ orm, config, ...clusterOptions });
  return {
    orm,
    clusters,
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
