// Every service, built once and handed around in one object. No DI container.
import type { EntityManager } from '@mikro-orm/knex';
import type { Session } from './access/session.js';
import { createClusterService, loginKey, type ClusterServiceOptions } from './clusters/service.js';
import type { Config } from './config.js';
import type { Orm } from './db/orm.js';
import { createJobService, type JobServiceOptions } from './jobs/service.js';
import { createPreflight } from './jobs/preflight.js';
import { createGpuService } from './clusters/gpu.js';
import { createLifecycleWatcher } from './jobs/lifecycle.js';
import { createLogFollower } from './jobs/live-log.js';
import { createNotifier, type NotifierOptions } from './push/notifier.js';
import { createPoller } from './jobs/poller.js';
import { createProjectService } from './projects/service.js';
import { createEvents, type PubSub } from './events.js';
import { createRateLimiter } from './access/rate-limit.js';
import { createSweepService } from './sweeps/service.js';
import { createMetricsService } from './metrics/service.js';
import { createTokenService } from './access/tokens.js';
import { createUserService } from './access/users.js';
import { createPrometheus } from './lib/prometheus.js';
import { countJobsByState } from './jobs/queries.js';
import { createUsageService } from './usage/service.js';

export interface ServiceOptions {
  orm: Orm;
  config: Config;
  clusters?: Omit<ClusterServiceOptions, 'orm' | 'config'>;
  jobs?: Pick<JobServiceOptions, 'afterSbatch' | 'onSubmitPhase' | 'replicas'>;
  notify?: Omit<NotifierOptions, 'orm' | 'events' | 'jobs' | 'config'>;
  /** The event bus, when it is not this process's own (a group server's, over Redis). */
  events?: PubSub;
  /** A group server replica's leadership, asked before each poll (server/db/leader-lock.ts). */
  fence?: () => Promise<boolean>;
}

export function createServices({ orm, config, clusters: clusterOptions, jobs: jobOptions, notify: notifyOptions, events = createEvents(), fence }: ServiceOptions) {
  // This server's metrics: a registry of its own, so several servers in one process (tests) count apart.
  const prometheus = createPrometheus();
  const clusters = createClusterService({ orm, config, events, observe: prometheus.transportObserver(), ...clusterOptions });
  const projects = createProjectService();
  const gpu = createGpuService({ clusters });
  const partitions = (cluster: string, userId: number) => gpu.partitions(cluster, userId);
  const preflight = createPreflight({ clusters });
  const jobs = createJobService({ orm, clusters, projects, events, partitions, preflight, ...jobOptions });
  const poller = createPoller({ orm, clusters, events, fence, onPolled: (record) => prometheus.observePoll(record) });
  prometheus.setSources({ clusters: () => clusters.known(), jobsByState: () => countJobsByState(orm.em.fork()) });
  const sweeps = createSweepService({ orm, clusters, projects, events, jobs, partitions, preflight, pollNow: (cluster) => poller.pollNow(cluster), onSubmitPhase: jobOptions?.onSubmitPhase });
  const metrics = createMetricsService({ orm, events });
  const lifecycle = createLifecycleWatcher({ orm, clusters, events, pollNow: (cluster) => poller.pollNow(cluster), files: metrics.reader });
  const logs = createLogFollower({ orm, clusters, events });
  const notify = createNotifier({ orm, events, jobs, config, notificationsSent: prometheus.notificationsSent, ...notifyOptions });
  const tokens = createTokenService({ orm });
  const users = createUserService({ orm });
  const usage = createUsageService({ orm, clusters });
  // Pushed when a read refreshed the cache: subscribers never cause a remote command themselves.
  gpu.subscribe((cluster, userId, availability) => events.publish('gpu:availability', loginKey(cluster, userId), availability));
  return {
    orm,
    events,
    clusters,
    projects,
    jobs,
    sweeps,
    metrics,
    poller,
    lifecycle,
    logs,
    gpu,
    notify,
    tokens,
    users,
    usage,
    /** This server's Prometheus registry and counters (GET /metrics). */
    prometheus,
    limits: createRateLimiter(),
    async applyConfig(next: Config) {
      await clusters.applyConfig(next);
      gpu.forget();
      notify.applyConfig(next);
    },
    async close() {
      tokens.revocation.close();
      await usage.stop();
      lifecycle.stop();
      await metrics.stop();
      logs.close();
      await poller.stop();
      // After the poller: the task changes of its last poll are counted into their sweeps.
      await sweeps.stop();
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
