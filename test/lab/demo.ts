// `npm run demo`: the product end to end on its embedded defaults — SQLite in ./data and the local SLURM lab
// (already brought up by lab.sh) as the one configured cluster.
// `npm run demo -- --group`: a group server instead (issue 21) — Debian's PostgreSQL (test/postgres.sh) with a database
// `mission_control_demo`, a redis-server of its own, and two replicas on consecutive ports, one of which leads.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { Project } from '../../server/db/entities.js';
import { startServer, stopOnSignals } from '../../server/main.js';
import { startRedisServer } from '../redis-server.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labDir, readLab } from './lab-env.js';

const group = process.argv.includes('--group');

const lab = readLab();
if (!lab) {
  console.error(`error: the SLURM lab is not up (no lab.json in ${labDir()}); run \`npm run lab:up\` as root`);
  process.exit(1);
}

const dataDir = resolve(process.env.MC_DATA_DIR ?? 'data');
mkdirSync(dataDir, { recursive: true });
const configPath = resolve(dataDir, 'clusters.demo.yaml');
writeFileSync(configPath, `# Written by \`npm run demo\` from ${labDir()}/lab.json: the local SLURM lab.\n${labClustersYaml(lab)}`);

/** The group demo's PostgreSQL database and Redis: made now, on this machine. */
async function groupBackends(): Promise<{ databaseUrl: string; redisUrl: string }> {
  const admin = execFileSync('bash', ['test/postgres.sh', 'up'], { encoding: 'utf8' }).trim();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    const exists = (await client.query("select 1 from pg_database where datname = 'mission_control_demo'")).rowCount;
    if (!exists) await client.query("create database mission_control_demo template template0 encoding 'UTF8' locale 'C.UTF-8'");
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = '/mission_control_demo';
  return { databaseUrl: url.toString(), redisUrl: (await startRedisServer()).url };
}

const port = Number(process.env.MC_PORT ?? 4000);
const host = process.env.MC_HOST ?? '127.0.0.1';
const backends: { databaseUrl?: string; redisUrl?: string } = group ? await groupBackends() : {};
const running = await startServer({ configPath, dataDir, ...backends, port, host, dev: false });
// The second replica: the same database, Redis and config, the next port; it follows while the first leads.
const second = group ? await startServer({ configPath, dataDir, ...backends, port: port + 1, host, dev: false }) : null;
// Something to launch at once: the sample ML project (a Hydra config and a train.py) as a git repository with an
// origin the lab can clone. Only into an empty demo; projects the user added are left alone.
const em = running.services.orm.em.fork();
if ((await em.count(Project, {})) === 0) {
  const sample = createFixtureRepo(lab.user);
  // The owner's: the first admin, whom a request without a token acts as.
  await running.services.projects.add(em, sample.work, (await running.services.users.firstAdmin()).id);
  console.log(`added the sample ML project from ${sample.work} (test/fixtures/ml-project): launch it from the app`);
}
console.log(`\nMission Control demo: open ${running.url}  (cluster "lab" = the local SLURM lab, config ${configPath})\n`);
if (second) {
  console.log(`A group server: PostgreSQL ${backends.databaseUrl?.replace(/:[^:@/]*@/, ':***@')}, Redis ${backends.redisUrl}; the replica at ${running.url} leads (polls), the one at ${second.url} follows: open either (GET /readyz says which), or both.\n`);
}
// The first run's pairing link and QR code; later runs say how to make a token (the first one is never shown again).
console.log(`${running.accessNotice}\n\nCtrl-C stops the server; \`npm run lab:down\` stops the lab.\n`);
stopOnSignals({ stop: async () => { await second?.stop(); await running.stop(); } });
