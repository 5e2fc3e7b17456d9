// A throwaway server for looking at the app by hand: the lab as the only cluster and the fixture project added,
// in a fresh data directory. `node --import tsx test/browser/serve-lab.ts` (MC_PORT, default 4173); build first.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, stopOnSignals } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from '../lab/fixture-repo.js';
import { labClustersYaml, readLab } from '../lab/lab-env.js';

const lab = readLab();
if (!lab) throw new Error('the SLURM lab is not up: bash test/lab/lab.sh up');
const dir = mkdtempSync(join(tmpdir(), 'mc-serve-lab-'));
writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab));
const running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: Number(process.env.MC_PORT ?? 4173), host: '127.0.0.1', dev: false });
const token = await createTestToken(running.services, { name: `serve-lab-${process.pid}` });
const repo = createFixtureRepo(lab.user);
const added = await graphqlClient(running.url, token)(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work });
console.log(`serving ${running.url}; pair with ${running.url}/#pair=${token}\nproject ${added.addProject.data.id} at ${repo.work}; data in ${dir}`);
stopOnSignals(running);
