// Rows that unit tests need in an in-memory database, written the way the project service would leave them.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Project } from '../server/db/entities.js';

/** A synced, clean, pushed project named `name` (found again if it exists); flushed, so its id is set. */
export async function insertProject(em: EntityManager, name = 'vision'): Promise<Project> {
  const existing = await em.findOne(Project, { name });
  if (existing) return existing;
  const project = em.create(Project, {
    name,
    localPath: `/home/me/${name}`,
    headSha: 'a'.repeat(40),
    headSubject: 'Initial',
    dirty: false,
    pushed: true,
    settings: {} as Project['settings'],
    syncedAt: new Date(),
    createdAt: new Date(),
  });
  await em.flush();
  return project;
}
