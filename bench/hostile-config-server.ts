// The server of bench/hostile-config.ts in its own process: the tree given (this checkout, or the commit before the
// project reader as a worktree) started on loopback without tokens, with the repository given added as a project.
// Prints one line `ready {"url":…,"projectId":…}`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const [tree, repo, labEntry] = process.argv.slice(2) as [string, string, string];
const { startServer } = (await import(join(tree, 'server/main.ts'))) as typeof import('../server/main.js');
const dir = mkdtempSync(join(tmpdir(), 'mc-bench-hostile-'));
writeFileSync(join(dir, 'clusters.yaml'), stringify({ server: { auth: { allowLoopbackWithoutToken: true } }, clusters: { lab: JSON.parse(labEntry) } }));
const running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
const response = await fetch(`${running.url}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query: 'mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }', variables: { path: repo } }),
});
const added = (await response.json()) as { data: { addProject: { data?: { id: number }; message?: string } } };
if (!added.data.addProject.data) throw new Error(`addProject: ${added.data.addProject.message}`);
console.log(`ready ${JSON.stringify({ url: running.url, projectId: added.data.addProject.data.id })}`);
