// `npm run demo`: the product end to end on its embedded defaults — SQLite in ./data and the local SLURM lab
// (already brought up by lab.sh) as the one configured cluster.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Project } from '../../server/db/entities.js';
import { startServer, stopOnSignals } from '../../server/main.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labDir, readLab } from './lab-env.js';

const lab = readLab();
if (!lab) {
  console.error(`error: the SLURM lab is not up (no lab.json in ${labDir()}); run \`npm run lab:up\` as root`);
  process.exit(1);
}

const dataDir = resolve(process.env.MC_DATA_DIR ?? 'data');
mkdirSync(dataDir, { recursive: true });
const configPath = resolve(dataDir, 'clusters.demo.yaml');
writeFileSync(configPath, `# Written by \`npm run demo\` from ${labDir()}/lab.json: the local SLURM lab.\n${labClustersYaml(lab)}`);

const running = await startServer({ configPath, dataDir, port: Number(process.env.MC_PORT ?? 4000), host: process.env.MC_HOST ?? '127.0.0.1', dev: false });
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
// The first run's pairing link and QR code; later runs say how to make a token (the first one is never shown again).
console.log(`${running.accessNotice}\n\nCtrl-C stops the server; \`npm run lab:down\` stops the lab.\n`);
stopOnSignals(running);
