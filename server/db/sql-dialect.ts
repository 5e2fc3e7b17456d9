// The one place where the SQL the server writes by hand differs between SQLite (the embedded default) and PostgreSQL
// (the group server). Everything else is written once, in SQL both read: double-quoted identifiers, aliased
// subqueries, `on conflict … do update`, `case` for booleans, window functions.
import { BaseSqlitePlatform, type EntityManager } from '@mikro-orm/knex';

export type DatabaseKind = 'sqlite' | 'postgresql';

export interface SqlDialect {
  kind: DatabaseKind;
  /** A datetime column as integer epoch milliseconds: SQLite keeps them so, PostgreSQL keeps timestamps. */
  ms(column: string): string;
  /**
   * The placeholder of a time bound as epoch milliseconds, compared with a datetime column. The parameter is
   * converted, never the column, so the column's index still serves the comparison.
   */
  time: string;
  /** Placeholders of a VALUES list, which PostgreSQL cannot type from their columns (they are `text` unless told). */
  integer: string;
  text: string;
  /** ±infinity as a literal: SQLite reads 9e999 as one; PostgreSQL reads it as a numeric that overflows a float8. */
  infinity(sign: 1 | -1): string;
  /** LIKE folding case (SQLite's LIKE folds ASCII case; PostgreSQL's folds none, its ILIKE folds it all). */
  like: string;
  /** SQLite's `indexed by` hint; nothing on PostgreSQL, whose planner has statistics to choose by. */
  indexedBy(index: string): string;
}

const SQLITE: SqlDialect = {
  kind: 'sqlite',
  ms: (column) => column,
  time: '?',
  integer: '?',
  text: '?',
  infinity: (sign) => (sign > 0 ? '9e999' : '-9e999'),
  like: 'like',
  indexedBy: (index) => ` indexed by "${index}"`,
};

const POSTGRESQL: SqlDialect = {
  kind: 'postgresql',
  // bigint, not numeric: `/` on it is then integer division, as on SQLite's integers.
  ms: (column) => `floor(extract(epoch from ${column}) * 1000)::bigint`,
  time: 'to_timestamp(?::float8 / 1000)',
  integer: '?::integer',
  text: '?::text',
  infinity: (sign) => (sign > 0 ? `'Infinity'::float8` : `'-Infinity'::float8`),
  like: 'ilike',
  indexedBy: () => '',
};

export function dialectOf(em: Pick<EntityManager, 'getPlatform'>): SqlDialect {
  return em.getPlatform() instanceof BaseSqlitePlatform ? SQLITE : POSTGRESQL;
}
