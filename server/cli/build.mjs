// `npm run build:server`: the production server as JavaScript, so `npm start` needs no TypeScript loader.
// One bundle of our own code (every package stays an import from node_modules): a cold start loads one file instead of
// resolving and compiling ~150 modules. It sits in dist/, one folder below the project root like server/main.ts, so
// the paths main.ts and config.ts take from their own location (client/dist, config/) hold in both. The project
// reader's worker is its own entry, beside it (server/projects/reader.ts starts it when running compiled).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
rmSync(`${root}/dist`, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { server: 'server/main.ts', 'reader-worker': 'server/projects/reader-worker.ts' },
  outdir: 'dist',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  // What is imported lazily (the MCP door and its SDK, at the first /mcp request) stays out of the cold start: its own
  // chunk, beside the entries.
  splitting: true,
  target: 'node20',
  // MikroORM and error reports read constructor and function names.
  keepNames: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
for (const [file, output] of bytes) console.log(`${file}  ${(output.bytes / 1024).toFixed(0)} kB`);
