// Projects: local git repositories the user launches from, with their launch settings.
import { isAbsolute, join } from 'node:path';
import type { EntityManager } from '@mikro-orm/knex';
import { Job, Project } from '../db/entities.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { readRepo, repoFingerprint } from './git.js';
import { readHydraConfig, type HydraChoice, type HydraConfig } from './hydra/config.js';
import { readSettings, SETTINGS_FILE } from './settings.js';

export type ProjectService = ReturnType<typeof createProjectService>;

/** How long a launch may reuse a read of the repository whose git metadata did not change (work-tree edits show after it). */
const REREAD_MS = 2000;

export function createProjectService() {
  async function get(em: EntityManager, id: number, options: { includeDeleted?: boolean } = {}): Promise<Project> {
    const project = await em.findOne(Project, { id });
    if (!project || (project.deletedAt && !options.includeDeleted)) throw new NotFoundError(`no project with id ${id}`);
    return project;
  }

  /** The project's fields as its repository is now, and the tracked files its work tree changed (kept apart: not stored). */
  async function read(localPath: string) {
    const repo = await readRepo(localPath);
    const settings = await readSettings(repo.root);
    const fields = {
      name: repo.name,
      localPath: repo.root,
      originUrl: repo.originUrl,
      cloneUrl: repo.cloneUrl,
      branch: repo.branch,
      headSha: repo.headSha,
      headSubject: repo.headSubject,
      dirty: repo.dirty,
      pushed: repo.pushed,
      settings,
      syncedAt: new Date(),
    };
    return { fields, changedFiles: repo.changedFiles, gitDir: repo.gitDir };
  }

  /** The last read of each project, reused while its git metadata is unchanged and it is younger than REREAD_MS. */
  const lastRead = new Map<number, { fingerprint: string; gitDir: string; watched: string[]; at: number; changedFiles: string[] }>();

  /**
   * The project as its repository is now. A launch form previews at every change, and a full read starts a handful of
   * git processes (~100 ms, far more on a busy machine): a read younger than REREAD_MS whose HEAD, branch ref,
   * packed-refs, index, git config, settings file and train script are unchanged is reused. So a commit, a checkout or
   * a settings edit is seen at once; other work-tree edits (the dirty warning) within REREAD_MS.
   */
  async function refresh(em: EntityManager, id: number, options: { force?: boolean } = {}): Promise<{ project: Project; changedFiles: string[] }> {
    const project = await get(em, id);
    const previous = lastRead.get(id);
    if (!options.force && previous && Date.now() - previous.at < REREAD_MS) {
      const fingerprint = await repoFingerprint(previous.gitDir, previous.watched);
      if (fingerprint !== null && fingerprint === previous.fingerprint) return { project, changedFiles: previous.changedFiles };
    }
    const { fields, changedFiles, gitDir } = await read(project.localPath);
    const watched = [join(fields.localPath, SETTINGS_FILE), join(fields.localPath, fields.settings.train_script)];
    // Taken after the read: a change in between makes the next fingerprint differ, so nothing stale is kept.
    const fingerprint = await repoFingerprint(gitDir, watched);
    em.assign(project, fields);
    await em.flush();
    if (fingerprint === null) lastRead.delete(id);
    else lastRead.set(id, { fingerprint, gitDir, watched, at: Date.now(), changedFiles });
    return { project, changedFiles };
  }

  return {
    get,

    list(em: EntityManager): Promise<Project[]> {
      return em.find(Project, { deletedAt: null }, { orderBy: { name: 'asc', id: 'asc' } });
    },

    /**
     * Adding a path that was deleted before brings that project back, with its job history. A path is one project on
     * the server: one that is another user's is refused.
     */
    async add(em: EntityManager, localPath: string, userId: number): Promise<Project> {
      if (!isAbsolute(localPath)) throw new ValidationError('localPath', 'must be an absolute path on the server');
      const { fields } = await read(localPath);
      // Past the request's owner filter: a path another user added is theirs, and said so.
      const existing = await em.findOne(Project, { localPath: fields.localPath }, { filters: false });
      if (existing && existing.userId !== userId) throw new ValidationError('localPath', `${fields.localPath} is another user's project`);
      if (existing) {
        em.assign(existing, { ...fields, deletedAt: null });
        await em.flush();
        return existing;
      }
      const project = em.create(Project, { ...fields, userId, createdAt: new Date(), deletedAt: null });
      await em.flush();
      return project;
    },

    async sync(em: EntityManager, id: number): Promise<Project> {
      return (await refresh(em, id, { force: true })).project;
    },

    /** sync, for a launch: also which tracked files the work tree changed, which the form reads and the job does not get. */
    refresh,

    /** The launch form of a project: its Hydra primaries, groups and parameters, composed with `choices`, read from the working tree. */
    async hydraConfig(em: EntityManager, id: number, primary?: string, choices: readonly HydraChoice[] = []): Promise<HydraConfig> {
      const project = await get(em, id);
      return readHydraConfig(project.localPath, primary, choices);
    },

    /** The project leaves the list; its jobs stay in history, archived. */
    async remove(em: EntityManager, id: number): Promise<Project> {
      const project = await get(em, id);
      project.deletedAt = new Date();
      await em.nativeUpdate(Job, { projectId: id }, { archived: true, updatedAt: new Date() });
      await em.flush();
      return project;
    },
  };
}
