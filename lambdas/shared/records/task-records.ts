import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { Clock } from '../clock';
import { RecordConflictError } from '../errors';

/**
 * One record per workflow task: the single source of truth for "has this task's automation been started, and
 * which run is it". Every write is conditional on the version the writer read (or on the record's absence), so
 * concurrent sweeps, webhooks and retries can never both win.
 *
 *   (none) → CLAIMED → STARTED(run id) → PATCHING(result) → DONE
 *
 * A record that is not DONE belongs to `owner` until `leaseUntil`; after that another execution may take it over.
 * Every transition, with its leases, is a function in `domain/task-lifecycle.ts`; this store only reads and writes.
 */
const TASK_RECORD_STATUSES = ['CLAIMED', 'STARTED', 'PATCHING', 'DONE'] as const;

export const taskRecordSchema = z.object({
  pk: z.string(),
  sk: z.string(),
  workflowExecutionId: z.string(),
  taskId: z.string(),
  status: z.enum(TASK_RECORD_STATUSES),
  version: z.number().int().nonnegative(),
  owner: z.string(),
  leaseUntil: z.number(),
  attempt: z.number().int().positive(),
  /** Increases when a workflow reopens a task this runner had finished. */
  round: z.number().int().positive(),
  flowId: z.string().optional(),
  entityId: z.string().optional(),
  automationExecutionId: z.string().optional(),
  automationStatus: z.string().optional(),
  /** Set just before the start request is sent: a run may exist even if its id was never recorded. */
  startAttemptedAt: z.number().optional(),
  startedAt: z.number().optional(),
  deadline: z.number().optional(),
  stepStatus: z.string().optional(),
  reason: z.string().optional(),
  /** When the result (PATCHING) was recorded: a step status change after it means the task moved on since. */
  resultRecordedAt: z.number().optional(),
  /** The recorded result is a decision someone else made on the step (a person, epilot): closed without a patch. */
  resultElsewhere: z.boolean().optional(),
  /** When this runner's final patch of the step was answered (its status is `stepStatus`). */
  patchedAt: z.number().optional(),
  /**
   * epilot's stamp (its clock) of the step status the round ended with: the status change this runner's patch made,
   * from the PATCH's answer, or the status someone else set, from the read that saw it. Kept when epilot gave one.
   */
  stepStatusStampedAt: z.number().optional(),
  /** The runs of this task's earlier rounds (newest last): never adopted again, whatever the step still shows. */
  earlierRunIds: z.array(z.string()).optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().optional(),
  /** How often a sweep resumed this record, and not before when the next may: a record whose executions keep dying backs off. */
  resumeCount: z.number().int().nonnegative().optional(),
  resumeAfter: z.number().optional(),
});
export type TaskRecord = z.output<typeof taskRecordSchema>;
/** A record as a writer decides it; the store derives the key and stamps `version` and `updatedAt`. */
export type TaskRecordFields = Omit<TaskRecord, 'pk' | 'sk' | 'version' | 'updatedAt'>;

export interface TaskKey {
  workflowExecutionId: string;
  taskId: string;
}

function taskRecordKey(key: TaskKey): { pk: string; sk: string } {
  return { pk: `TASK#${key.workflowExecutionId}`, sk: key.taskId };
}

/** A sparse index over unfinished records, sorted by lease end: what a dead execution left behind, oldest first. */
export const OPEN_RECORDS_INDEX = 'OpenRecords';
export const OPEN_INDEX_KEY = 'open';
const OPEN_INDEX_VALUE = 'OPEN';

/** How many index pages one look for abandoned records reads at most (backing-off records are skipped by a filter). */
const ABANDONED_MAX_PAGES = 5;

/** Told of each stored item that is not a readable task record, and why. */
type OnUnreadable = (key: { pk: unknown; sk: unknown }, problem: string) => void;

export class TaskRecords {
  private readonly documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {
    this.documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async get(key: TaskKey): Promise<TaskRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: taskRecordKey(key), ConsistentRead: true }),
    );
    return Item === undefined ? undefined : taskRecordSchema.parse(Item);
  }

  /**
   * Unfinished records whose lease has run out: their execution died, and nobody has taken them over yet. Items are
   * read one by one: one that does not parse (a rollback after a schema change, a hand edit) is reported to
   * `onUnreadable` and skipped, so it cannot stop every other record from being resumed.
   */
  async abandoned(now: number, limit: number, onUnreadable: OnUnreadable = () => undefined): Promise<TaskRecord[]> {
    const records: TaskRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    // The filter applies after `Limit`, so a page of backing-off records is read past, a bounded number of pages.
    for (let page = 0; page < ABANDONED_MAX_PAGES && records.length < limit; page += 1) {
      const { Items, LastEvaluatedKey } = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OPEN_RECORDS_INDEX,
          KeyConditionExpression: '#open = :open AND leaseUntil < :now',
          // A record backing off (see `noteResume`) is left out, so records that keep failing cannot fill every page.
          FilterExpression: 'attribute_not_exists(resumeAfter) OR resumeAfter < :now',
          ExpressionAttributeNames: { '#open': OPEN_INDEX_KEY },
          ExpressionAttributeValues: { ':open': OPEN_INDEX_VALUE, ':now': now },
          Limit: limit,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      records.push(...readableRecords(Items ?? [], onUnreadable));
      startKey = LastEvaluatedKey;
      if (startKey === undefined) break;
    }
    return records.slice(0, limit);
  }

  /**
   * Every unfinished record, whatever its lease: what a local runner looks through at its start for claims its own
   * dead processes left (the deployed stack never calls this). Unreadable items go to `onUnreadable`, as in
   * `abandoned`.
   */
  async open(onUnreadable: OnUnreadable = () => undefined): Promise<TaskRecord[]> {
    const records: TaskRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items, LastEvaluatedKey } = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OPEN_RECORDS_INDEX,
          KeyConditionExpression: '#open = :open',
          ExpressionAttributeNames: { '#open': OPEN_INDEX_KEY },
          ExpressionAttributeValues: { ':open': OPEN_INDEX_VALUE },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      records.push(...readableRecords(Items ?? [], onUnreadable));
      startKey = LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }

  /**
   * Ends the lease of an unfinished record now, for a holder that is known to be at work no more: a local runner
   * that was interrupted before it started the task's run, or whose process is gone. Nothing else changes, so the
   * next trigger takes the record over at once and carries on from it, as after any lease that ran out. Written only
   * if the record is still the one read, at its version and with its owner; otherwise RecordConflictError, and the
   * record is left to whoever changed it. The lease rules themselves are unchanged: only the holder's word ends one
   * early.
   */
  async expireLease(record: TaskRecord): Promise<TaskRecord> {
    // One millisecond in the past: `abandoned` looks for leases that ended before now, and now may be this very ms.
    const leaseUntil = Math.min(record.leaseUntil, this.clock.now() - 1);
    const written: TaskRecord = { ...record, leaseUntil, version: record.version + 1, updatedAt: this.clock.now() };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...written, [OPEN_INDEX_KEY]: OPEN_INDEX_VALUE },
          ConditionExpression: '#version = :expected AND #owner = :owner AND #status <> :done',
          ExpressionAttributeNames: { '#version': 'version', '#owner': 'owner', '#status': 'status' },
          ExpressionAttributeValues: { ':expected': record.version, ':owner': record.owner, ':done': 'DONE' },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailure(error)) {
        throw new RecordConflictError(`Task record ${record.workflowExecutionId}/${record.taskId} changed before its lease could be ended`);
      }
      throw error;
    }
    return written;
  }

  /**
   * Writes `next` only if the stored record is still the one the caller decided on: absent when `previous` is
   * undefined, otherwise at `previous.version`. Returns the record as written (version incremented, updatedAt
   * now); a `version` or `updatedAt` that `next` carries over from the record read is overwritten.
   */
  async replace(previous: TaskRecord | undefined, next: TaskRecordFields & Partial<Pick<TaskRecord, 'updatedAt'>>): Promise<TaskRecord> {
    const written: TaskRecord = {
      ...next,
      ...taskRecordKey(next),
      version: previous === undefined ? 1 : previous.version + 1,
      updatedAt: this.clock.now(),
    };
    // Only records that are not DONE carry the open-index key, so the index holds exactly the unfinished tasks.
    const item = written.status === 'DONE' ? written : { ...written, [OPEN_INDEX_KEY]: OPEN_INDEX_VALUE };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(previous === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': previous.version },
              }),
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailure(error)) {
        throw new RecordConflictError(`Task record ${next.workflowExecutionId}/${next.taskId} changed while this execution was deciding`);
      }
      throw error;
    }
    return written;
  }
}

/** A conditional write lost: someone else wrote first (the SDK's class, or its name when another copy threw it). */
export function isConditionalCheckFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: unknown } | undefined)?.name === 'ConditionalCheckFailedException'
  );
}

/**
 * The items that parse as task records, one by one: one that does not (a rollback after a schema change, a hand
 * edit) goes to `onUnreadable` and is left out, so it cannot stop the others from being read.
 */
function readableRecords(items: Array<Record<string, unknown>>, onUnreadable: OnUnreadable): TaskRecord[] {
  return items.flatMap((item) => {
    const parsed = taskRecordSchema.safeParse(item);
    if (parsed.success) return [parsed.data];
    onUnreadable({ pk: item.pk, sk: item.sk }, parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    return [];
  });
}
