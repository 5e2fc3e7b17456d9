// A server for the MCP suites (server/http/mcp.test.ts, server/cli/mcp.test.ts): the real app on a port, a database,
// one project, and a cluster whose only answer is a job's log screen (no SLURM here; the lab suite has it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJobRow, insertProject } from './factories.js';
import { refuseStream } from './fake-transport.js';
import { createApp } from '../server/http/app.js';
import { clusterConfig, type Config } from '../server/config.js';
import { Job, type Project } from '../server/db/entities.js';
import { snapshot } from '../server/jobs/transitions.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Services } from '../server/services.js';
import type { ExecResult } from '../server/ssh/transport.js';

/** Where the cluster's key is, so tests can see it never reaches an agent (server/lib/redaction.ts). */
export const KEY_PATH = '/home/me/.ssh/id_alpha_cluster';

export interface McpTestApp {
  cluster: {
    /** Remote commands run so far. */
    commands: string[][];
    /** What the cluster answers; by default a job's log screen. */
    answer: (argv: string[]) => ExecResult;
  };
  orm: Orm;
  services: Services;
  project: Project;
  url: string;
  /** MCP sessions the server holds now. */
  sessions(): Promise<number>;
  /** A job row as the job service stores it after sbatch answered (no remote command). */
  insertJob(state: 'RUNNING' | 'PENDING'): Promise<Job>;
  /** What the poller does when a job ends: save, then announce. */
  endJob(job: Job, state?: Job['state']): Promise<void>;
  /** A new app on the same port and database, as after a server restart: every MCP session is forgotten. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMcpTestApp(): Promise<McpTestApp> {
  const orm = await initOrm(join(mkdtempSync(join(tmpdir(), 'mc-mcp-')), 'mission-control.sqlite'));
  const config: Config = { file: 'test.yaml', clusters: [clusterConfig('alpha', { host: 'alpha.example.edu', user: 'me', identityFile: KEY_PATH, keepaliveIntervalMs: 0 })] };
  const cluster: McpTestApp['cluster'] = {
    commands: [],
    // A job's log screen: its size, where the screen starts and whether that is the file's start, then its last lines
    // (server/slurm/jobs.ts readOutputScreen).
    answer: () => ({ stdout: '17 0 1\nepoch 1 loss 0.5\n', stderr: '', exitCode: 0, durationMs: 1 }),
  };
  const exec = async (argv: string[]) => (cluster.commands.push(argv), cluster.answer(argv));
  const services = createServices({ orm, config, clusters: { transportFactory: () => ({ exec, close: async () => undefined, stream: refuseStream }) } });
  let app = createApp({ services });
  const url = await app.start(0, '127.0.0.1');
  const project = await insertProject(orm.em.fork());
  return {
    cluster,
    orm,
    services,
    project,
    url,
    sessions: () => app.mcpSessions(),
    async insertJob(state) {
      const em = orm.em.fork();
      const row = createJobRow(em, { cluster: 'alpha', state, projectId: project.id, slurmJobId: '4242', name: 'resnet-lr' });
      await em.flush();
      return row;
    },
    async endJob(job, state = 'COMPLETED') {
      const em = orm.em.fork();
      const saved = await em.findOneOrFail(Job, { id: job.id });
      saved.state = state;
      saved.exitCode = 0;
      saved.endedAt = new Date();
      await em.flush();
      services.events.publish('job:updated', snapshot(saved));
    },
    async restart() {
      await app.stop();
      app = createApp({ services });
      await app.start(Number(new URL(url).port), '127.0.0.1');
    },
    async stop() {
      await app.stop();
      await services.close();
      await orm.close();
    },
  };
}
