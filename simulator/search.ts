import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { LuceneSyntaxError, matchesLucene, parseLucene, requiredRoots, type LuceneQuery } from './lucene';
import type { EntityRecord, SimulatorStore } from './store';

/**
 * POST /v1/entity:search. Matching scans the entities in sort order; sort orders are cached until the entity
 * set changes, and the computed `workflows` field is only built for entities that have workflows.
 */

const MAX_SEARCH_SIZE = 1000;

/** EntitySearchParams: exactly these keys (`additionalProperties: false` in the definition). */
export const SearchBodySchema = z.strictObject({
  q: z.string(),
  include_scores: z.boolean().optional(),
  sort: z.union([z.string(), z.array(z.string())]).optional(),
  from: z.int().min(0).optional(),
  size: z.int().min(0).max(MAX_SEARCH_SIZE, `size must be at most ${MAX_SEARCH_SIZE}`).optional(),
  hydrate: z.boolean().optional(),
  fields: z.array(z.string()).optional(),
  aggs: z.record(z.string(), z.unknown()).optional(),
  include_deleted: z.enum(['true', 'false', 'only']).optional(),
  highlight: z.unknown().optional(),
  stable_for: z.int().min(0).max(60).optional(),
  stable_query_id: z.string().optional(),
  search_after: z.array(z.union([z.string(), z.number(), z.null()])).optional(),
});
export type SearchBody = z.infer<typeof SearchBodySchema>;

export type SearchOutcome = { ok: true; body: Record<string, unknown> } | { ok: false; message: string };

type SortValue = string | number | null;
interface SortKey {
  field: string;
  descending: boolean;
}

/** Fields the definition requires on every EntityItem; a `fields` projection never drops them. */
const REQUIRED_ENTITY_FIELDS = ['_id', '_title', '_org', '_schema', '_created_at', '_updated_at'];

export class EntitySearch {
  private readonly queryCache = new Map<string, { query: LuceneQuery; roots: string[] }>();
  private readonly sortCache = new Map<string, { version: string; order: EntityRecord[] }>();

  constructor(
    private readonly store: SimulatorStore,
    private readonly maxResultWindow: number | undefined,
  ) {}

  search(body: SearchBody, now: number): SearchOutcome {
    let query: LuceneQuery;
    let roots: string[];
    let sortKeys: SortKey[];
    try {
      ({ query, roots } = this.parse(body.q));
      sortKeys = parseSort(body.sort);
    } catch (error) {
      if (error instanceof LuceneSyntaxError) return { ok: false, message: `Unsupported query syntax in q: ${error.message}` };
      throw error;
    }
    const size = body.size ?? 10;
    const from = body.from ?? 0;
    if (body.search_after !== undefined && from > 0) return { ok: false, message: 'from must be 0 when search_after is used' };
    if (body.search_after !== undefined && body.sort === undefined) return { ok: false, message: 'search_after requires an explicit sort' };
    if (body.search_after !== undefined && body.search_after.length > sortKeys.length)
      return {
        ok: false,
        message: `search_after has ${body.search_after.length} values but the sort has ${sortKeys.length} (including the _id tiebreaker)`,
      };
    if (this.maxResultWindow !== undefined && from + size > this.maxResultWindow)
      return { ok: false, message: `Result window is too large, from + size must be less than or equal to: [${this.maxResultWindow}]` };

    // Most entities have no workflow: a query that needs one only walks those that do.
    const needsWorkflows = roots.includes('workflows');
    const order = this.sorted(sortKeys, needsWorkflows);
    const startAt = body.search_after === undefined ? 0 : firstAfter(order, sortKeys, body.search_after);
    const deleted = body.include_deleted ?? 'false';
    let hits = 0;
    let skipped = 0;
    const page: EntityRecord[] = [];
    for (let i = 0; i < order.length; i++) {
      const entity = order[i];
      if (!entity) continue;
      const isDeleted = entity._deleted_at !== undefined && entity._deleted_at !== null;
      if ((deleted === 'false' && isDeleted) || (deleted === 'only' && !isDeleted)) continue;
      if (!hasRoots(entity, roots)) continue;
      if (!this.matches(query, entity, now)) continue;
      hits++;
      if (i < startAt || page.length >= size) continue;
      if (skipped < from) skipped++;
      else page.push(entity);
    }

    const results = page.map((entity) => project(this.store.entityView(entity, now), body.fields));
    const response: Record<string, unknown> = { hits, results };
    const last = page[page.length - 1];
    // Without results there is no last sort value; omitting sort_end tells a deep-paging client to stop.
    if (last) response.sort_end = sortKeys.map((key) => sortValue(last, key.field));
    if (body.stable_query_id !== undefined) response.stable_query_id = body.stable_query_id;
    else if (body.stable_for !== undefined && body.stable_for > 0) response.stable_query_id = randomUUID();
    return { ok: true, body: response };
  }

  private parse(q: string): { query: LuceneQuery; roots: string[] } {
    let parsed = this.queryCache.get(q);
    if (!parsed) {
      const query = parseLucene(q);
      parsed = { query, roots: [...requiredRoots(query)] };
      if (this.queryCache.size > 1000) this.queryCache.clear();
      this.queryCache.set(q, parsed);
    }
    return parsed;
  }

  private matches(query: LuceneQuery, entity: EntityRecord, now: number): boolean {
    if (query.kind === 'all') return true;
    let workflows: unknown;
    let workflowsResolved = false;
    return matchesLucene(query, (key) => {
      if (key !== 'workflows') return entity[key];
      if (!workflowsResolved) {
        workflows = this.store.workflowsOf(entity._id, now);
        workflowsResolved = true;
      }
      return workflows;
    });
  }

  private sorted(keys: SortKey[], withWorkflowsOnly: boolean): EntityRecord[] {
    const cacheKey = keys.map((key) => `${key.field}:${key.descending ? 'desc' : 'asc'}`).join(',');
    const version = `${this.store.entitiesVersion}`;
    let all = this.sortCache.get(cacheKey);
    if (all?.version !== version) {
      all = { version, order: [...this.store.entities.values()].sort((a, b) => compareEntities(a, b, keys)) };
      this.sortCache.set(cacheKey, all);
    }
    if (!withWorkflowsOnly) return all.order;
    const filteredKey = `${cacheKey}|workflows`;
    const filteredVersion = `${version}/${this.store.executionsVersion}`;
    let filtered = this.sortCache.get(filteredKey);
    if (filtered?.version !== filteredVersion) {
      filtered = { version: filteredVersion, order: all.order.filter((entity) => this.store.hasWorkflows(entity._id)) };
      this.sortCache.set(filteredKey, filtered);
    }
    return filtered.order;
  }
}

function hasRoots(entity: EntityRecord, roots: string[]): boolean {
  for (const root of roots) if (root !== 'workflows' && entity[root] === undefined) return false;
  return true;
}

/** Sort keys, always ending with `_id` so the order (and paging) is total and stable. */
function parseSort(sort: string | string[] | undefined): SortKey[] {
  const entries = sort === undefined ? [] : Array.isArray(sort) ? sort : [sort];
  const keys = entries.map((entry): SortKey => {
    const [field = '', direction = 'asc', ...rest] = entry.split(':');
    if (rest.length > 0 || (direction !== 'asc' && direction !== 'desc'))
      throw new LuceneSyntaxError(`sort entry '${entry}' must be field, field:asc or field:desc`);
    if (!/^[A-Za-z0-9_]+$/.test(field) || field === 'workflows')
      throw new LuceneSyntaxError(`sorting by '${field}' is not supported (only top-level entity attributes)`);
    return { field, descending: direction === 'desc' };
  });
  if (keys[keys.length - 1]?.field !== '_id') keys.push({ field: '_id', descending: false });
  return keys;
}

function sortValue(entity: EntityRecord, field: string): SortValue {
  const value = entity[field];
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

/** Missing values sort last in both directions, like Elasticsearch's default `missing: _last`. */
function compareValues(a: SortValue, b: SortValue, descending: boolean): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  let result: number;
  if (typeof a === 'number' && typeof b === 'number') result = a - b;
  else {
    const left = String(a);
    const right = String(b);
    result = left < right ? -1 : left > right ? 1 : 0;
  }
  return descending ? -result : result;
}

function compareEntities(a: EntityRecord, b: EntityRecord, keys: SortKey[]): number {
  for (const key of keys) {
    const result = compareValues(sortValue(a, key.field), sortValue(b, key.field), key.descending);
    if (result !== 0) return result;
  }
  return 0;
}

/** Index of the first entity strictly after the cursor (binary search over the cached order). */
function firstAfter(order: EntityRecord[], keys: SortKey[], after: SortValue[]): number {
  const compareToCursor = (entity: EntityRecord): number => {
    for (let k = 0; k < after.length; k++) {
      const key = keys[k];
      if (!key) break;
      const result = compareValues(sortValue(entity, key.field), after[k] ?? null, key.descending);
      if (result !== 0) return result;
    }
    return 0;
  };
  let low = 0;
  let high = order.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const entity = order[middle];
    if (entity && compareToCursor(entity) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** `fields`: top-level names or globs, `!name` to exclude; nested paths select their top-level attribute. */
function project(entity: EntityRecord, fields: string[] | undefined): EntityRecord {
  if (!fields || fields.length === 0) return entity;
  const includes = fields.filter((field) => !field.startsWith('!')).map(toMatcher);
  const excludes = fields.filter((field) => field.startsWith('!')).map((field) => toMatcher(field.slice(1)));
  const projected: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity)) {
    const required = REQUIRED_ENTITY_FIELDS.includes(key);
    const included = includes.length === 0 || includes.some((matches) => matches(key));
    if (required || (included && !excludes.some((matches) => matches(key)))) projected[key] = value;
  }
  return projected as EntityRecord;
}

function toMatcher(field: string): (key: string) => boolean {
  const top = field.split('.')[0] ?? field;
  if (top === '**') return () => true;
  const pattern = new RegExp(`^${top.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return (key) => pattern.test(key);
}
