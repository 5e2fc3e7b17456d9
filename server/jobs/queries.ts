// Reading jobs from the database: one by id, and pages of a filtered list.
import { raw, type EntityManager, type FilterQuery } from '@mikro-orm/sqlite';
import { Job } from '../db/entities.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { JobState } from '../slurm/state.js';

export interface JobFilter {
  projectId?: number | null;
  states?: JobState[] | null;
  cluster?: string | null;
  archived?: boolean | null;
  search?: string | null;
  /** A sweep's tasks (all its attempts); without it, tasks are left out unless `tasks` is true (a sweep is one line). */
  sweepId?: number | null;
  tasks?: boolean | null;
}

/** A search box's text, not a document; SQLite refuses LIKE patterns over 50,000 bytes anyway. */
const SEARCH_MAX_LENGTH = 500;

export async function getJob(em: EntityManager, id: number): Promise<Job> {
  const job = await em.findOne(Job, { id });
  if (!job) throw new NotFoundError(`no job with id ${id}`);
  return job;
}

/** Newest first; `after` is the id of the last job of the previous page. */
export async function listJobs(em: EntityManager, filter: JobFilter, first: number, after: number | null): Promise<{ jobs: Job[]; hasNextPage: boolean }> {
  if (filter.search && filter.search.length > SEARCH_MAX_LENGTH) {
    throw new ValidationError('search', `must be at most ${SEARCH_MAX_LENGTH} characters (this one has ${filter.search.length})`);
  }
  // The SQLite driver inlines values into the statement, where a NUL ends it; no stored name, description or
  // cluster holds one (validation refuses them), so such a filter matches nothing.
  if ([filter.search, filter.cluster].some((text) => text?.includes('\0'))) return { jobs: [], hasNextPage: false };
  const where: FilterQuery<Job> = {};
  if (filter.projectId != null) where.projectId = filter.projectId;
  if (filter.states?.length) where.state = { $in: filter.states };
  if (filter.cluster) where.cluster = filter.cluster;
  if (filter.archived != null) where.archived = filter.archived;
  if (filter.sweepId != null) where.sweepId = filter.sweepId;
  else if (!filter.tasks) where.sweepId = null;
  if (after !== null) where.id = { $lt: after };
  if (filter.search?.trim()) {
    // SQLite's LIKE has no escape character unless told: say ESCAPE so % and _ typed by the user are literal.
    const pattern = `%${filter.search.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.$or = [{ [raw(`name like ? escape '\\'`, [pattern])]: [] }, { [raw(`description like ? escape '\\'`, [pattern])]: [] }];
  }
  const limit = Math.min(Math.max(first, 1), 200);
  const jobs = await em.find(Job, where, { orderBy: { id: 'desc' }, limit: limit + 1 });
  return { jobs: jobs.slice(0, limit), hasNextPage: jobs.length > limit };
}

/**
 * A sweep's current tasks: per array index, the newest (a relaunched task replaces the one that failed), by index.
 * `fields` loads only those columns (a count of 1,000 tasks on every burst of task changes needs no scripts).
 */
export async function latestTasks(em: EntityManager, sweepId: number, fields?: readonly (keyof Job & string)[]): Promise<Job[]> {
  const options = { orderBy: { arrayIndex: 'asc', id: 'asc' } as const, ...(fields ? { fields: ['id', 'arrayIndex', ...fields] as never } : {}) };
  const tasks = (await em.find(Job, { sweepId }, options)) as Job[];
  const byIndex = new Map<number, Job>();
  for (const task of tasks) byIndex.set(task.arrayIndex!, task);
  return [...byIndex.values()];
}
