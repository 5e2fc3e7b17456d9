// Reading jobs from the database: one by id, and pages of a filtered list.
import { raw, type EntityManager, type FilterQuery } from '@mikro-orm/knex';
import { Job } from '../db/entities.js';
import { dialectOf } from '../db/sql-dialect.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { JobState } from '../slurm/state.js';
import { ftsMatch, searchPlan, tsQuery } from './search.js';

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

/**
 * What no list shows and most of a job's row: its script (~1.5 kB) and its launch settings. A list leaves them in
 * SQLite; a field that needs them reads them with jobWithSettings.
 */
const LEFT_OUT_OF_LISTS = ['script', 'input'] as const;

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
  // Single launches: written with SQLite's unary + so no index serves it. Without statistics (the server runs no
  // ANALYZE) SQLite takes the sweep index for "sweep_id is null", which holds every single launch, and sorts them all
  // for a page of the newest (80 ms at 100,000 jobs); without it, it walks the newest jobs or a better index.
  else if (!filter.tasks) Object.assign(where, { [raw('+"sweep_id" is null')]: [] });
  const limit = Math.min(Math.max(first, 1), 200);
  const search = searchPlan(filter.search);
  if (search?.kind === 'words') {
    const ids = await searchJobIds(em, where, search, filter.projectId, after, limit + 1);
    const jobs = ids.length ? await findListed(em, { id: { $in: ids } }) : [];
    return { jobs: jobs.slice(0, limit), hasNextPage: jobs.length > limit };
  }
  if (after !== null) where.id = { $lt: after };
  if (search?.kind === 'text') {
    // LIKE has no escape character unless told: say ESCAPE so % and _ typed by the user are literal.
    const like = dialectOf(em).like;
    where.$or = [{ [raw(`name ${like} ? escape '\\'`, [search.pattern])]: [] }, { [raw(`description ${like} ? escape '\\'`, [search.pattern])]: [] }];
  }
  const jobs = await findListed(em, where, limit + 1);
  return { jobs: jobs.slice(0, limit), hasNextPage: jobs.length > limit };
}

/** Typed as whole jobs for the schema's Job type, whose fields that read what is left out use jobWithSettings. */
const findListed = async (em: EntityManager, where: FilterQuery<Job>, limit?: number) =>
  (await em.find(Job, where, { orderBy: { id: 'desc' }, limit, exclude: LEFT_OUT_OF_LISTS })) as Job[];

/**
 * The ids of a page of a search, newest first. SQLite: the full-text index walked from its newest match (FTS5 gives its
 * rows in rowid order, and a job's id is its rowid), each match's row checked against the other filters, until the page
 * is full; ordered by the job's own id instead, SQLite would sort every match first (a common word: every fourth job).
 * PostgreSQL: the GIN index's matches, joined to the jobs and sorted (it keeps no order of its own).
 */
async function searchJobIds(em: EntityManager, where: FilterQuery<Job>, search: { words: string[]; prefix: boolean }, projectId: number | null | undefined, after: number | null, count: number): Promise<number[]> {
  const query = em.createQueryBuilder(Job, 'j0').select('j0.id').where(where).getKnexQuery();
  if (dialectOf(em).kind === 'sqlite') {
    query.join('job_search', 'job_search.rowid', 'j0.id').whereRaw('job_search match ?', [ftsMatch(search, projectId)]).orderBy('job_search.rowid', 'desc').limit(count);
    if (after !== null) query.where('job_search.rowid', '<', after);
  } else {
    query.join('job_search', 'job_search.job_id', 'j0.id').whereRaw(`job_search.document @@ to_tsquery('simple', ?)`, [tsQuery(search)]).orderBy('j0.id', 'desc').limit(count);
    if (after !== null) query.where('j0.id', '<', after);
  }
  const rows = await em.getConnection().execute<Array<{ id: number }>>(query);
  return rows.map((row) => row.id);
}

/**
 * A job with its script and launch settings, which lists leave out (LEFT_OUT_OF_LISTS): as it is when it has them,
 * else read into it. The jobs of one list asking in the same tick (a page's `input` fields) are read by one query.
 */
export async function jobWithSettings(em: EntityManager, job: Job): Promise<Job> {
  // Both are NOT NULL columns: undefined is only ever "not loaded".
  if (LEFT_OUT_OF_LISTS.every((property) => job[property] !== undefined)) return job;
  let batch = settingsReads.get(em);
  if (!batch) {
    const ids = new Set<number>();
    batch = { ids, read: Promise.resolve().then(async () => {
      settingsReads.delete(em);
      // Merged into the listed entities: the identity map hands each row to the entity that is already there.
      await em.find(Job, { id: { $in: [...ids] } }, { fields: ['id', ...LEFT_OUT_OF_LISTS] });
    }) };
    settingsReads.set(em, batch);
  }
  batch.ids.add(job.id);
  await batch.read;
  return job;
}

/** Per request (its EntityManager): the listed jobs whose settings are being read in this tick. */
const settingsReads = new WeakMap<EntityManager, { ids: Set<number>; read: Promise<void> }>();

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

/** Every tracked job counted by state, in one group-by the (state, id) index answers without reading rows (GET /metrics). */
export async function countJobsByState(em: EntityManager): Promise<Array<{ state: JobState; count: number }>> {
  const rows = await em.createQueryBuilder(Job).select(['state', raw('count(*) as count')]).groupBy('state').execute<Array<{ state: JobState; count: number }>>('all', false);
  return rows.map((row) => ({ state: row.state, count: Number(row.count) }));
}
