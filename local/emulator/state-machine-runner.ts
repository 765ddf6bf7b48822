import './polyfills';
import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import * as z from 'zod';
import { type AslDefinition, type JsonValue, parseAslDefinition } from './asl';
import { assertExecutionName, assertValidDefinition, bindingProblems, unsupportedFeatures } from './checks';
import {
  describeFailure,
  lambdaError,
  type LocalExecutionStatus,
  MAX_PAYLOAD_BYTES,
  payloadBytes,
  StatesError,
  terminalError,
  toJson,
} from './lambda-semantics';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION } from './local-account';
import { type RetryDelayMs, RetryBook } from './retry-book';
import { libraryDefinition, waitTimeOverrides } from './rewrites';

export type { LocalExecutionStatus } from './lambda-semantics';

/**
 * Receives exactly what the Lambda would receive as its event and returns what the Lambda would return. Throwing
 * is a Lambda error: its `name` becomes the Step Functions error name that Retry/Catch match on.
 */
export type LocalTaskHandler = (payload: unknown) => Promise<unknown>;

export interface RunLocalExecutionOptions {
  /**
   * A `LocalStateMachineDefinition` from synthesized-definitions (its name and ARN go into the Context Object), or
   * a bare ASL definition (then named LocalStateMachine). Checked before anything runs; see checks.ts.
   */
  definition: object;
  input: unknown;
  /** Execution name; a random UUID like Step Functions' default. Same character and length rules as AWS. */
  name?: string;
  /** By Task state name. Every Task state needs one; no extras allowed. */
  handlers: Record<string, LocalTaskHandler>;
  /** How long a Wait state really pauses, given its `Seconds`; asked once per Wait state per run. Default: real time. */
  waitMs?: (stateName: string, seconds: number) => number;
  /**
   * How long to pause before retry `attempt` (1 = first retry) of a state; `defaultMs` is what Step Functions would
   * pause (IntervalSeconds × BackoffRate^(attempt-1), capped at MaxDelaySeconds, FULL jitter applied). The result is
   * still capped at MaxDelaySeconds. Default: `defaultMs`.
   */
  retryDelayMs?: RetryDelayMs;
  /** The Context Object's `Execution.Id`; default the ARN Step Functions would give the execution. */
  executionId?: string;
  /** Aborting it ends the execution at once (ABORTED), as StopExecution does: no state after it runs. */
  signal?: AbortSignal;
}

export interface LocalExecutionResult {
  status: LocalExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  /** As Standard workflows bill them: one per state entered, one more per retry. */
  stateTransitions: number;
  /** Handler calls, retries included. */
  taskInvocations: number;
}

type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

const localDefinitionShape = z.object({ definition: z.object({}).loose(), name: z.string(), arn: z.string() });

/**
 * Runs one execution of a state machine definition with aws-local-stepfunctions, every Task state bound by name to
 * a local handler, through the library's public options only: `taskResourceLocalHandlers`, `waitTimeOverrides`,
 * `retryIntervalOverrides` and `context`. Throws before anything runs when the definition uses what the emulator
 * does not support (checks.ts), a Task state has no handler or a handler no Task state, or the name breaks Step
 * Functions' rules.
 */
export async function runLocalExecution(options: RunLocalExecutionOptions): Promise<LocalExecutionResult> {
  const local = localDefinitionShape.safeParse(options.definition);
  const definition = parseAslDefinition(local.success ? local.data.definition : options.definition);
  const machineName = local.success ? local.data.name : 'LocalStateMachine';
  const machineArn = local.success
    ? local.data.arn
    : `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${machineName}`;
  const name = options.name ?? randomUUID();
  const input = toJson(options.input, 'execution input');
  checkBeforeRun(definition, name, input, Object.keys(options.handlers));

  const retries = new RetryBook(definition, options.retryDelayMs);
  const counts = { stateTransitions: 0, taskInvocations: 0 };
  let ended = false;

  const localHandler =
    (state: string, handler: LocalTaskHandler) =>
    async (payload: JsonValue): Promise<JsonValue> => {
      // After a timeout the library keeps retrying in the background; a deployed execution would not.
      if (ended || options.signal?.aborted) throw terminalError('States.Runtime', `The execution has ended; ${state} is not run`);
      counts.taskInvocations += 1;
      retries.called(state);
      try {
        return checkedResult(state, await handler(structuredClone(payload)));
      } catch (thrown) {
        const error = thrown instanceof StatesError ? thrown : lambdaError(thrown);
        // Must happen before the rejection reaches the library, which reads the delay right after (retry-book.ts).
        retries.failed(state, error);
        throw error;
      }
    };

  const machine = new StateMachine(libraryDefinition(definition) as unknown as StateMachineDefinition, {
    // checkBeforeRun validated the original; the rewritten copy differs only in durations.
    validationOptions: { noValidate: true },
  });
  const handle = machine.run(input, {
    context: {
      Execution: {
        Id: options.executionId ?? `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${machineName}:${name}`,
        Name: name,
      },
      StateMachine: { Id: machineArn, Name: machineName },
    },
    overrides: {
      taskResourceLocalHandlers: Object.fromEntries(
        Object.entries(options.handlers).map(([state, handler]) => [state, localHandler(state, handler)]),
      ),
      waitTimeOverrides: waitTimeOverrides(definition, options.waitMs),
      retryIntervalOverrides: retries.overrides,
    },
  });

  const abort = () => handle.abort();
  // The library would enter the first state before it noticed: an execution stopped already runs nothing.
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });

  let logError: Error | undefined;
  const logged = (async () => {
    for await (const event of handle.eventLogs) {
      try {
        observe(event, counts, retries);
      } catch (error) {
        logError ??= error instanceof Error ? error : new Error(String(error));
        handle.abort();
      }
    }
  })();

  let settled: Pick<LocalExecutionResult, 'status' | 'output' | 'error' | 'cause'>;
  try {
    settled = { status: 'SUCCEEDED', output: await handle.result };
  } catch (error) {
    if (logError !== undefined) throw logError;
    settled = describeFailure(error);
  } finally {
    ended = true;
    options.signal?.removeEventListener('abort', abort);
    await logged;
  }
  if (logError !== undefined) throw logError;
  // A timed-out or aborted run stops mid-retry; any other end must have made every retry the book decided.
  if (settled.status !== 'TIMED_OUT' && settled.status !== 'ABORTED') retries.assertAllMade();
  return { ...settled, ...counts };
}

function checkBeforeRun(definition: AslDefinition, name: string, input: JsonValue, handlerNames: string[]): void {
  assertExecutionName(name);
  const size = payloadBytes(input);
  if (size > MAX_PAYLOAD_BYTES) throw new Error(`Execution input is ${size} bytes; Step Functions accepts ${MAX_PAYLOAD_BYTES}`);
  const problems = unsupportedFeatures(definition);
  if (problems.length > 0) throw new Error(`The definition uses what local runs do not support:\n  ${problems.join('\n  ')}`);
  const binding = bindingProblems(definition, handlerNames);
  if (binding) throw new Error(binding);
  assertValidDefinition(definition);
}

function checkedResult(state: string, result: unknown): JsonValue {
  const json = toJson(result, `result of Task state ${state}`);
  const size = payloadBytes(json);
  if (size > MAX_PAYLOAD_BYTES) {
    throw terminalError(
      'States.DataLimitExceeded',
      `The result of Task state ${state} is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`,
    );
  }
  return json;
}

/** The event log is complete for a machine without Map or Parallel states, so transitions are counted from it. */
function observe(event: LibraryEvent, counts: { stateTransitions: number }, retries: RetryBook): void {
  if (event.type === 'StateEntered') {
    counts.stateTransitions += 1;
    retries.loggedEntry(event.state.name);
  } else if (event.type === 'StateRetried') {
    counts.stateTransitions += 1;
    retries.loggedRetry(event.state.name, event.retry.retrier, event.retry.attempt);
  }
}
