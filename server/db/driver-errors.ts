import type { DriverException } from '@mikro-orm/core';

/** How much of a failed statement its error keeps, beside the database's own words. */
const STATEMENT_SHOWN = 300;

/**
 * The database's own words for a failure ("SQLITE_FULL: database or disk is full"): knex writes the whole statement,
 * values inlined, in front of them.
 */
export function databaseReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const at = typeof code === 'string' ? message.lastIndexOf(`${code}: `) : -1;
  if (at >= 0) return message.slice(at);
  // PostgreSQL's words follow the statement after " - ".
  const dash = message.lastIndexOf(' - ');
  return dash >= 0 && typeof code === 'string' ? message.slice(dash + 3) : message;
}

/**
 * Every failed statement's error is logged (Yoga logs each error it masks), and its statement holds the values: a
 * 50 kB search, a whole script. Its start names the statement, the database's words say what went wrong.
 */
export function shortened(converted: DriverException): DriverException {
  const whole = converted.message;
  const reason = databaseReason(converted);
  const end = reason.length < whole.length ? reason : whole.slice(-200);
  const leftOut = whole.length - STATEMENT_SHOWN - end.length;
  if (leftOut > 100) {
    converted.message = `${whole.slice(0, STATEMENT_SHOWN)} … (${leftOut} characters left out) … ${end}`;
    converted.stack = converted.stack?.replace(whole, converted.message);
  }
  return converted;
}
