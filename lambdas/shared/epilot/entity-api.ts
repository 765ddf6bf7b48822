import * as z from 'zod';
import type { EpilotHttp } from './http';

/** A workflow summary as entity search returns it: only the current task, and possibly stale. */
const workflowSummarySchema = z.looseObject({
  id: z.string().min(1),
  status: z.string().optional(),
  task_id: z.string().optional(),
  task_execution_type: z.string().optional(),
  task_status: z.string().optional(),
});
export type WorkflowSummary = z.output<typeof workflowSummarySchema>;

// `workflows` maps definition ids to summary arrays, plus `primary` (a single summary). Anything else is ignored.
const workflowsSchema = z.record(z.string(), z.unknown());

export const searchedEntitySchema = z.looseObject({
  _id: z.string().min(1),
  _schema: z.string().optional(),
  _title: z.string().nullish(),
  workflows: workflowsSchema.nullish(),
});
export type SearchedEntity = z.output<typeof searchedEntitySchema>;

const searchResultsSchema = z.looseObject({
  hits: z.number().optional(),
  results: z.array(searchedEntitySchema).default([]),
  sort_end: z.array(z.union([z.string(), z.number(), z.null()])).optional(),
});

export type SearchCursor = Array<string | number | null>;

export interface SearchPage {
  entities: SearchedEntity[];
  /** Where the next page starts, or undefined when this was the last page. */
  next: SearchCursor | undefined;
  hits: number | undefined;
}

/**
 * Sorting makes `search_after` deep paging possible (from/size stops at 10,000 results). `_id` breaks ties so
 * no entity is skipped or seen twice between pages.
 */
const SEARCH_SORT = ['_created_at', '_id'];
const SEARCH_FIELDS = ['_id', '_schema', '_title', 'workflows'];

/** epilot's Entity API: the search the sweep pages through and the webhook uses to look an entity up. */
export class EntityApi {
  constructor(private readonly http: EpilotHttp) {}

  /** `seen` (entities on earlier pages) lets the last page be recognised without asking for an empty one. */
  async searchPage(query: { q: string; size: number; after?: SearchCursor | undefined; seen?: number }): Promise<SearchPage> {
    const body = await this.http.send({
      api: 'entity',
      operation: 'searchEntities',
      method: 'POST',
      path: '/v1/entity:search',
      idempotent: true,
      body: {
        q: query.q,
        size: query.size,
        sort: SEARCH_SORT,
        fields: SEARCH_FIELDS,
        ...(query.after ? { search_after: query.after } : {}),
      },
      schema: searchResultsSchema,
    });
    const seen = (query.seen ?? 0) + body.results.length;
    const more =
      body.results.length >= query.size &&
      body.sort_end !== undefined &&
      body.sort_end.length > 0 &&
      (body.hits === undefined || seen < body.hits);
    return { entities: body.results, next: more ? body.sort_end : undefined, hits: body.hits };
  }

  async findById(entityId: string): Promise<SearchedEntity | undefined> {
    const page = await this.searchPage({ q: `_id:${JSON.stringify(entityId)}`, size: 1 });
    return page.entities.find((entity) => entity._id === entityId);
  }
}

export function parseWorkflowSummary(value: unknown): WorkflowSummary | undefined {
  const parsed = workflowSummarySchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
