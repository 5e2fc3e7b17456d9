// A server for the MCP suites (server/http/mcp.test.ts, server/cli/mcp.test.ts): the real app on a port, a database,
// one project, and a cluster whose only answer is a job's log screen (no SLURM here; the lab suite has it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertProject } from './factories.js';
import { refuseStream } from './fake-transport.js';
import { createApp } from '../server/http/app.js';
import { clusterConfig, type Config } from '../server/config.js';
import type { Project } from '../server/db/entities.js';
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
