import * as z from 'zod';
import { InvalidStateInputError } from '../errors';

/**
 * The state data of one task execution. Every Lambda of the task state machine receives `{state, execution}` and
 * returns the next state; each adds a few small fields, so the data stays far below Step Functions' 256 KB and
 * readable in the console. Schemas are loose: a state ignores fields it does not use.
 */

export const taskInputSchema = z.object({
  workflowExecutionId: z.string().min(1),
  taskId: z.string().min(1),
  entityId: z.string().min(1).optional(),
  /** What started this execution: `sweep`, `webhook`, or anything a person chose when starting it by hand. */
  trigger: z.string().min(1).default('manual'),
  /** The execution attempt for this task; part of the execution name. */
  attempt: z.number().int().positive().optional(),
});
export type TaskInput = z.output<typeof taskInputSchema>;

const taskViewSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  status: z.string().optional(),
  executionType: z.string().optional(),
  flowId: z.string().optional(),
  runId: z.string().optional(),
  runStatus: z.string().optional(),
  statusChangedAt: z.number().optional(),
});

const executionViewSchema = z.object({
  found: z.boolean(),
  workflowStatus: z.string().optional(),
  entityId: z.string().optional(),
  task: taskViewSchema.optional(),
});

export const stepStatusResultSchema = z.enum(['COMPLETED', 'FAILED', 'SKIPPED']);

export const taskStateSchema = taskInputSchema.extend({
  execution: executionViewSchema.optional(),
  /** run: start or adopt a run; patch: a result is known, only the step patch is missing; skip: nothing to do. */
  decision: z.object({ action: z.enum(['run', 'patch', 'skip']), reason: z.string() }).optional(),
  flowId: z.string().optional(),
  run: z
    .looseObject({
      executionId: z.string().optional(),
      status: z.string().optional(),
      adopted: z.boolean().default(false),
      /** Adopted from the run id the step shows (no record of this runner named it): checked before it is followed. */
      fromStep: z.boolean().optional(),
      /** ISO time the run was recorded as started, when the record knows it. */
      startedAt: z.string().optional(),
      /** ISO time after which the runner stops waiting, cancels the run and fails the step. */
      deadline: z.string().optional(),
      /**
       * ISO time epilot stamped this execution's IN_PROGRESS note of the run (its clock): a read of the step whose
       * status is older than that predates the note, so it is stale and may hide a decision made since.
       */
      stepNotedAt: z.string().optional(),
      polls: z.number().int().nonnegative().default(0),
      finished: z.boolean().default(false),
      timedOut: z.boolean().default(false),
    })
    .optional(),
  /** Set when the step was found final while its run went on: someone else decided, and that decision stands. */
  stepFinalizedElsewhere: z
    .object({
      status: stepStatusResultSchema,
      /** ISO time epilot gives for the status change, if any. */
      changedAt: z.string().optional(),
    })
    .optional(),
  result: z
    .looseObject({
      stepStatus: stepStatusResultSchema,
      automationStatus: z.string().optional(),
      reason: z.string(),
      /** The status is someone else's decision the step already shows: the record is closed, the step not patched. */
      elsewhere: z.boolean().optional(),
    })
    .optional(),
  /** Set by a Catch: `{Error, Cause}` of what went wrong. */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type TaskState = z.output<typeof taskStateSchema>;
export type TaskRun = NonNullable<TaskState['run']>;
export type TaskResult = NonNullable<TaskState['result']>;

/** What every task-state Lambda receives: the state data and the id of the execution it belongs to. */
export const taskEventSchema = z.object({
  state: taskStateSchema,
  execution: z.string().min(1),
});
export type TaskEvent = z.output<typeof taskEventSchema>;

export function parseTaskEvent(event: unknown): TaskEvent {
  return parseStateInput(taskEventSchema, event);
}

export function parseStateInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`)
    .join('; ');
  throw new InvalidStateInputError(`Invalid state input: ${problems}`);
}

/** A state's precondition that the definition guarantees; failing it means the definition or input is wrong. */
export function expectField<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new InvalidStateInputError(`Invalid state input: ${field} is missing`);
  return value;
}
