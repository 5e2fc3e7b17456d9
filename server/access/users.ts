// The people a server serves (issue 21, the group server). A single-user server has one, `owner`, an admin (the
// migration that brought users made it, and gave it everything stored before). `npm run user` manages them; every API
// token acts as one (`npm run token -- create --user NAME`).
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { ApiToken, Job, Project, PushSubscription, Sweep, User } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { NotFoundError, ValidationError } from '../errors.js';

const NAME_PATTERN = /^[a-z][a-z0-9._-]{0,31}$/;

export interface UserInfo {
  id: number;
  name: string;
  admin: boolean;
  createdAt: Date;
  tokens: number;
  jobs: number;
}

/**
 * The first admin: who a request without a token acts as, and whose the config's login to the clusters is (its jobs
 * launched elsewhere, its re-login pushes, the config's notification destinations) until each user has their own.
 * The migration made one, and `remove` never removes the last.
 */
export function firstAdminOf(em: EntityManager): Promise<User> {
  return em.findOneOrFail(User, { admin: true }, { orderBy: { id: 'asc' }, failHandler: () => new NotFoundError('the server has no admin user (npm run user -- add NAME --admin)') });
}

export function createUserService({ orm }: { orm: Orm }) {
  async function byName(name: string): Promise<User> {
    const user = await orm.em.fork().findOne(User, { name });
    if (!user) throw new NotFoundError(`no user named "${name}"`);
    return user;
  }

  return {
    byName,

    firstAdmin: () => firstAdminOf(orm.em.fork()),

    async add(name: string, options: { admin?: boolean } = {}): Promise<User> {
      if (!NAME_PATTERN.test(name)) throw new ValidationError('name', 'must be 1-32 lowercase letters, digits, ".", "_" or "-", starting with a letter');
      const em = orm.em.fork();
      const taken = () => new ValidationError('name', `a user named "${name}" exists already`);
      if (await em.count(User, { name })) throw taken();
      const user = em.create(User, { name, admin: options.admin ?? false, createdAt: new Date() });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw taken();
        throw error;
      }
      return user;
    },

    async list(): Promise<UserInfo[]> {
      const em = orm.em.fork();
      const users = await em.find(User, {}, { orderBy: { name: 'asc' } });
      return Promise.all(
        users.map(async (user) => ({ id: user.id, name: user.name, admin: user.admin, createdAt: user.createdAt, tokens: await em.count(ApiToken, { userId: user.id }), jobs: await em.count(Job, { userId: user.id }) })),
      );
    },

    /**
     * Removes a user who owns nothing but tokens and devices (those go with them, and their open subscriptions end at
     * once). A user who still owns projects, jobs or sweeps is refused: their history is kept, never orphaned.
     */
    async remove(name: string): Promise<void> {
      const user = await byName(name);
      const em = orm.em.fork();
      const owned = { projects: await em.count(Project, { userId: user.id }), jobs: await em.count(Job, { userId: user.id }), sweeps: await em.count(Sweep, { userId: user.id }) };
      if (owned.projects + owned.jobs + owned.sweeps > 0) {
        throw new ValidationError('name', `${name} owns ${owned.projects} project(s), ${owned.jobs} job(s) and ${owned.sweeps} sweep(s), which are kept: a user with history is not removed (revoke their tokens instead)`);
      }
      if (user.admin && (await em.count(User, { admin: true })) === 1) throw new ValidationError('name', `${name} is the only admin`);
      await em.transactional(async (tx) => {
        await tx.nativeDelete(PushSubscription, { userId: user.id });
        await tx.nativeDelete(ApiToken, { userId: user.id });
        await tx.nativeDelete(User, { id: user.id });
      });
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
