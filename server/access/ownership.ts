// Who may read and change what (issue 21): a user sees and steers only their own projects, jobs, sweeps and push
// devices; an admin sees everyone's and changes only their own. The reads are narrowed once, on the request's
// EntityManager (a MikroORM filter, which every find, count, update and delete of those entities applies), so no
// resolver can forget it; what reads around the EntityManager (raw SQL, the live log, usage) asks ownerOf() itself.
import type { AnyEntity, Dictionary, EntityManager, EntityName } from '@mikro-orm/knex';
import { Job, Project, PushSubscription, Sweep } from '../db/entities.js';
import { ValidationError } from '../errors.js';
import type { Session } from './session.js';

const OWNED = [Project, Job, Sweep, PushSubscription];

/** The user whose rows a session reads: null for an admin (everyone's). */
export function ownerOf(session: Pick<Session, 'userId' | 'admin'>): number | null {
  return session.admin ? null : session.userId;
}

/** Whether the session reads this row: an event's payload, which no EntityManager filtered. */
export function owns(session: Pick<Session, 'userId' | 'admin'>, row: { userId: number }): boolean {
  return session.admin || row.userId === session.userId;
}

/** `em` reading only the session's own rows (unchanged for an admin, or without a session: the server's own work). */
export function ownersView<T extends EntityManager>(em: T, session: Pick<Session, 'userId' | 'admin'> | undefined): T {
  const owner = session ? ownerOf(session) : null;
  if (owner !== null) em.addFilter('owner', { userId: owner } as Dictionary, OWNED as Array<EntityName<AnyEntity>>);
  return em;
}

/**
 * Refuses a change of another user's row: an admin reads everyone's but steers only their own (a user never gets
 * here with another's row: their reads do not find it). A ValidationError of `field` (the argument that named it),
 * which every mutation already answers with; `what` names the row.
 */
export function assertMaySteer(session: Pick<Session, 'userId'>, row: { userId: number }, field: string, what: string): void {
  if (row.userId !== session.userId) throw new ValidationError(field, `${what} belongs to another user: an admin sees everyone's, and changes only their own`);
}

/**
 * For an admin (whose reads find everyone's rows): refuses a change of the row `id` of `entity` unless it is their
 * own. A user's reads find only their own, so for them this reads nothing; a missing row is the service's to refuse.
 */
export async function assertMaySteerId(em: EntityManager, session: Pick<Session, 'userId' | 'admin'>, entity: typeof Job | typeof Sweep | typeof Project, id: number, field: string): Promise<void> {
  if (!session.admin) return;
  const row = (await em.findOne(entity as typeof Job, { id }, { fields: ['userId'] })) as { userId: number } | null;
  if (row) assertMaySteer(session, row, field, `${(entity as { name?: string }).name?.toLowerCase() ?? 'row'} ${id}`);
}
