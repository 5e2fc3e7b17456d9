import { MikroORM } from '@mikro-orm/sqlite';
import { ormConfig } from './orm-config.js';

export type Orm = MikroORM;

/** Opens the database (a file path or ':memory:') and applies pending migrations before anything reads it. */
export async function initOrm(dbName: string): Promise<Orm> {
  const orm = await MikroORM.init(ormConfig(dbName));
  await orm.getMigrator().up();
  return orm;
}
