// Every service, built once and handed around in one object. No DI container.
import type { EntityManager } from '@mikro-orm/sqlite';
import type { Session } from './auth.js';
import { createClusterService, type ClusterServiceOptions } from './clusters.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { createJobService, type JobServiceOptions } from './jobs.js';
import { createGpuService } from './gpu.js';
import { createLifecycleWatcher } from './lifecycle.js';
import { createLogFollower } from './log-tail.js';
import { createNotifier, type NotifierOptions } from './notify.js';
import { createPoller } from './poller.js';
import { createProjectService } from './projects.js';
import { createEvents } from './pubsub.js';
import { createRateLimiter } from './rate-limit.js';
import { createTokenService } from './tokens.js';

export interface ServiceOptions {
  orm: Orm;
  config: Config;
  clusters?: Omit<ClusterServiceOptions, 'orm' | 'config'>;
  jobs?: Pick<JobServiceOptions, 'afterSbatch' | 'onSubmitPhase'>;
  notify?: Omit<NotifierOptions, 'orm' | 'events' | 'jobs' | 'config'>;
}

export function createServices({ orm, config, clusters: clusterOptions, jobs: jobOptions, notify: notifyOptions }: ServiceOptions) {
  const events = createEvents();
  const clusters = createClusterService({ orm, config, events, ...clusterOptions });
  const projects = createProjectService();
  const jobs = createJobService({ orm, clusters, projects, events, ...jobOptions });
  const poller = createPoller({ orm, clusters, events });
  const lifecycle = createLifecycleWatcher({ orm, clusters, events, pollNow: (cluster) => poller.pollNow(cluster) });
  const logs = createLogFollower({ orm, clusters, events });
  const gpu = createGpuService({ clusters });
  const notify = createNotifier({ orm, events, jobs, config, ...notifyOptions });
  const tokens = createTokenService({ orm });
  // Pushed when a read refreshed the cache: subscribers never cause a remote command themselves.
  gpu.subscribe((cluster, availability) => events.publish('gpu:availability', cluster, availability));
  return {
    orm,
    events,
    clusters,
    projects,
    jobs,
    poller,
    lifecycle,
    logs,
    gpu,
    notify,
    tokens,
    limits: createRateLimiter(),
    async applyConfig(next: Config) {
      await clusters.applyConfig(next);
      gpu.forget();
      notify.applyConfig(next);
    },
    async close() {
      tokens.revocation.close();
      lifecycle.stop();
      logs.close();
      await poller.stop();
      // After the poller: the ends its last poll announced are still sent.
      await notify.stop();
      await clusters.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;

/** What every resolver receives: one EntityManager fork per HTTP request or WebSocket operation. */
export interface Context {
  em: EntityManager;
  services: Services;
  /** Who is asking (server/auth.ts); every operation has one, or it was refused before reaching a resolver. */
  session: Session;
}
