// A consistent copy of the server's SQLite database, taken while the server runs: SQLite's online backup API through
// sqlite3, the driver MikroORM uses. One step copies one snapshot, so a launch written meanwhile is in the copy
// whole or not at all, and the server (WAL) goes on writing. The copy is written beside its destination and renamed
// into place only once it passed SQLite's integrity check, so a destination file is always a usable database.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import { AppError } from '../errors.js';

export class BackupError extends AppError {}

export interface BackupResult {
  path: string;
  bytes: number;
  pages: number;
  durationMs: number;
}

// sqlite3's Backup (lib/sqlite3.js), which its type declarations leave out.
interface OnlineBackup {
  step(pages: number, done: (error: Error | null) => void): void;
  finish(done?: (error: Error | null) => void): void;
  readonly completed: boolean;
  readonly failed: boolean;
  readonly pageCount: number;
}
type BackupCapable = sqlite3.Database & { backup(filename: string, ready: (error: Error | null) => void): OnlineBackup };

function open(path: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (error) => (error ? reject(error) : resolve(db)));
  });
}

const close = (db: sqlite3.Database) => new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
const all = (db: sqlite3.Database, sql: string) => new Promise<Array<Record<string, unknown>>>((resolve, reject) => db.all(sql, (error, rows) => (error ? reject(error) : resolve(rows as Array<Record<string, unknown>>))));

/** Copies the database at `source` to `destination` (replaced if it exists). */
export async function backupDatabase(source: string, destination: string): Promise<BackupResult> {
  const started = performance.now();
  // Opened without OPEN_CREATE: a mistyped data directory must not back up a new, empty database.
  if (!existsSync(source)) throw new BackupError(`no database at ${source} (is --data-dir the server's data directory?)`);
  await mkdir(dirname(destination), { recursive: true });
  const partial = `${destination}.partial-${process.pid}`;
  await rm(partial, { force: true });

  const db = await open(source, sqlite3.OPEN_READWRITE);
  let pages = 0;
  try {
    db.configure('busyTimeout', 5000);
    await new Promise<void>((resolve, reject) => {
      const backup = (db as BackupCapable).backup(partial, (error) => {
        if (error) return reject(error);
        // All pages in one step: the copy is one snapshot. sqlite3 retries BUSY and LOCKED (the server checkpointing
        // at that moment) by leaving the backup unfinished; step again until it is done.
        const step = (attempt: number) =>
          backup.step(-1, (stepError) => {
            if (stepError || backup.failed) return backup.finish(() => reject(stepError ?? new BackupError('the online backup failed')));
            if (!backup.completed) {
              if (attempt >= 100) return backup.finish(() => reject(new BackupError('the database stayed busy for too long')));
              return void setTimeout(() => step(attempt + 1), 50);
            }
            pages = backup.pageCount;
            backup.finish((finishError) => (finishError ? reject(finishError) : resolve()));
          });
        step(0);
      });
    });
  } catch (error) {
    await rm(partial, { force: true });
    throw error instanceof AppError ? error : new BackupError(`backing up ${source}: ${(error as Error).message}`);
  } finally {
    await close(db);
  }

  // A standalone file: the copy would otherwise keep WAL mode and grow -wal and -shm files wherever it is opened.
  const copy = await open(partial, sqlite3.OPEN_READWRITE);
  try {
    await all(copy, 'pragma journal_mode = delete');
    const check = await all(copy, 'pragma integrity_check');
    if (check.length !== 1 || check[0]!.integrity_check !== 'ok') throw new BackupError(`the copy failed SQLite's integrity check: ${JSON.stringify(check).slice(0, 500)}`);
  } catch (error) {
    await close(copy);
    await rm(partial, { force: true });
    throw error;
  }
  await close(copy);
  await rename(partial, destination);
  return { path: destination, bytes: (await stat(destination)).size, pages, durationMs: Math.round(performance.now() - started) };
}
