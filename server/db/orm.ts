import { MikroORM } from '@mikro-orm/core';
import type { AbstractSqlDriver, SqlEntityManager } from '@mikro-orm/knex';
import { databaseKind, ormConfig } from './orm-config.js';
import { dialectOf } from './sql-dialect.js';

export { databaseReason } from './driver-errors.js';

export type Orm = MikroORM<AbstractSqlDriver, SqlEntityManager>;

const engineOf = (kind: 'sqlite' | 'postgresql') => (kind === 'postgresql' ? import('./postgresql.js') : import('./sqlite.js'));

/** A committed write that changes nothing, or the engine's own refusal of writes: at start and in GET /healthz. */
export async function proveWritable(orm: Orm): Promise<void> {
  await (await engineOf(dialectOf(orm.em).kind)).proveWritable(orm);
}

/**
 * Opens the database (a SQLite file path or ':memory:', or a postgres:// URL) and applies pending migrations before
 * anything reads it. A database that is damaged, cannot be written or cannot be reached is refused here with a
 * DatabaseUnusableError naming it: a server that started on it would fail every request instead.
 */
export async function initOrm(target: string): Promise<Orm> {
  const engine = await engineOf(databaseKind(target));
  let orm: Orm | undefined;
  try {
    orm = (await MikroORM.init(await ormConfig(target))) as Orm;
    await engine.checkIntegrity(orm);
    await orm.getMigrator().up();
    // With nothing to migrate nothing was written yet: prove the database can be, before a request finds out.
    await engine.proveWritable(orm);
    return orm;
  } catch (error) {
    await orm?.close().catch(() => undefined);
    throw engine.unusable(target, error) ?? error;
  }
}
