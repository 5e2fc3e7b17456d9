// `npm run backup [-- --data-dir DIR] [-- --out FILE]`: a consistent copy of the server's database, safe to take while
// the server runs (see server/backup.ts). Without --out it goes to <data-dir>/backups/, named by the time it was taken.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { backupDatabase, type BackupResult } from '../db/backup.js';
import { AppError } from '../errors.js';

const USAGE = `usage: npm run backup -- [--data-dir DIR] [--out FILE]

  --data-dir DIR   the server's data directory (MC_DATA_DIR, default ./data)
  --out FILE       where the copy goes (default DIR/backups/mission-control-<UTC time>.sqlite); replaced if it exists`;

class UsageError extends AppError {}

export async function runBackupCli(argv: string[], now = new Date()): Promise<BackupResult | null> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  if (process.env.MC_DATABASE_URL) throw new UsageError('MC_DATABASE_URL is set: this server keeps its data in PostgreSQL, which this command does not copy; back it up with pg_dump (or your PostgreSQL service\'s backups)');
  const dataDir = resolve(values['data-dir'] ?? process.env.MC_DATA_DIR ?? 'data');
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const out = resolve(values.out ?? `${dataDir}/backups/mission-control-${stamp}.sqlite`);
  // The server's database file name (server/main.ts).
  return backupDatabase(resolve(dataDir, 'mission-control.sqlite'), out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const result = await runBackupCli(process.argv.slice(2));
    if (result) console.log(`backed up ${result.pages} pages (${(result.bytes / 1024).toFixed(0)} kB) to ${result.path} in ${result.durationMs} ms; integrity check ok`);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(error instanceof AppError ? 2 : 1);
  }
}
