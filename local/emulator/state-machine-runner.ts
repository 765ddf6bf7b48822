import './polyfills';
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { z } from 'zod';
import {
  type AslDefinition,
  type AslState,
  allStates,
  assertUniqueStateNames,
  type JsonValue,
  nestedDefinitions,
  parseAslDefinition,
  type TaskIntegration,
  taskIntegration,
} from './asl';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION } from './local-account';

/**
 * Receives exactly what the Lambda would receive as its event and returns what the Lambda would return. Throwing
 * is a Lambda error: its `name` becomes the Step Functions error name that Retry/Catch match on.
 */
export type LocalTaskHandler = (payload: unknown) => Promise<unknown>;

type LibraryRun = ReturnType<StateMachine['run']>;
/**
 * An event of aws-local-stepfunctions' execution log. Wait states show as Wait states although the runner runs them
 * as Tasks. The library may drop the last events of Map iterations and Parallel branches that end with the execution.
 */
export type LocalExecutionEvent = LibraryRun['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface RunLocalExecutionOptions {
  /**
   * An ASL definition (JSONPath), or a `LocalStateMachineDefinition` from synthesized-definitions (then its name
   * goes into the Context Object). Validated on use.
   */
  definition: object;
  input: unknown;
  /** Execution name; a random UUID like Step Functions' default. Same character and length rules as AWS. */
  name?: string;
  /** For `$$.StateMachine.*` and the execution ARN, when `definition` is a bare ASL definition. */
  stateMachineName?: string;
  /** By Task state name, nested Parallel/Map states included. Every Task state needs one; no extras allowed. */
  handlers: Record<string, LocalTaskHandler>;
  /** Merged (deeply) over the generated Context Object. */
  context?: Record<string, unknown>;
  /** How long a Wait state really pauses; gets the seconds the definition asks for. Default: real time. */
  waitMs?: (stateName: string, seconds: number) => number;
  /**
   * How long to pause before retry `attempt` (1 = first retry) of a state; `defaultMs` is what Step Functions would
   * pause (IntervalSeconds × BackoffRate^(attempt-1), capped at MaxDelaySeconds, FULL jitter applied). The result is
   * still capped at MaxDelaySeconds. Default: `defaultMs`.
   */
  retryDelayMs?: (stateName: string, attempt: number, defaultMs: number) => number;
  onEvent?: (event: LocalExecutionEvent) => void;
  /** Aborting ends the execution as ABORTED once the running state has finished. */
  abortSignal?: AbortSignal;
  /** aws-local-stepfunctions' definition validation; CDK output passes the defaults. */
  validation?: { checkPaths?: boolean; checkArn?: boolean; noValidate?: boolean };
}

export type LocalExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface LocalExecutionResult {
  executionArn: string;
  name: string;
  status: LocalExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  /** As Standard workflows bill them: one per state entered (nested ones included), one more per retry. */
  stateTransitions: number;
  statesEntered: Record<string, number>;
  /** Handler calls, retries included (Wait states do not count). */
  taskInvocations: number;
  durationMs: number;
}

/** Step Functions' limit on an execution's input and on any state's data. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
// Node's timers overflow above 2^31-1 ms (they then fire after 1 ms); every timeout handed to the library stays below.
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * Runs one execution of a state machine definition with aws-local-stepfunctions, every Task state bound by name to
 * a local handler. Before anything runs it throws if a Task state has no handler, a handler has no Task state, the
 * definition uses something the library would silently get wrong (JSONata, variables, distributed-map readers), or
 * the name breaks Step Functions' rules.
 *
 * Differences from the library's defaults, to behave like Step Functions: a Task without TimeoutSeconds has no
 * 60-second limit; handler errors reach Retry/Catch as `{Error: error.name, Cause: <Lambda error JSON>}`; Wait
 * states are run by the runner itself (so `waitMs` sees SecondsPath/TimestampPath values); the Context Object has
 * Execution.Id/Name/RoleArn, StateMachine.Id/Name and State.Name/EnteredTime/RetryCount.
 */
export async function runLocalExecution(options: RunLocalExecutionOptions): Promise<LocalExecutionResult> {
  return new LocalExecution(options).run();
}

// asl-validator compiles its schemas on every call (~100 ms); a simulation runs the same definitions many times.
const validatedDefinitions = new Set<string>();

const localDefinitionShape = z.object({ definition: z.object({}).loose(), name: z.string(), arn: z.string() });

class LocalExecution {
  private readonly definition: AslDefinition;
  private readonly stateMachineName: string;
  private readonly stateMachineArn: string;
  private readonly name: string;
  private readonly executionArn: string;
  private readonly input: JsonValue;

  private readonly internal = new AbortController();
  private finished = false;
  private readonly stateContext: { Name: string; EnteredTime: string; RetryCount: number } = {
    Name: '',
    EnteredTime: '',
    RetryCount: 0,
  };
  private stateTransitions = 0;
  private readonly statesEntered: Record<string, number> = {};
  private taskInvocations = 0;
  /** Per state with Retry: what the library's retrier counters hold for the current entry (replicated). */
  private readonly retries = new Map<string, RetryBook>();
  /** Prepared (rewritten) states by name: the objects the library sees, so event payloads can be traced back. */
  private readonly prepared = new Map<string, AslState>();
  private readonly waitStates = new Set<string>();
  /** Retries counted in `failed` whose StateRetried event has not arrived yet, by state name. */
  private readonly predictedRetries = new Map<string, number>();

  constructor(private readonly options: RunLocalExecutionOptions) {
    const local = localDefinitionShape.safeParse(options.definition);
    this.definition = parseAslDefinition(local.success ? local.data.definition : options.definition);
    this.stateMachineName = options.stateMachineName ?? (local.success ? local.data.name : 'LocalStateMachine');
    this.stateMachineArn =
      local.success && options.stateMachineName === undefined
        ? local.data.arn
        : `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${this.stateMachineName}`;
    this.name = options.name ?? randomUUID();
    this.executionArn = `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${this.stateMachineName}:${this.name}`;
    this.input = toJson(options.input, 'execution input');
  }

  async run(): Promise<LocalExecutionResult> {
    this.checkBeforeRun();
    const started = Date.now();
    const abortSignal = this.options.abortSignal;
    // The library would enter the first state (and call its handler) synchronously before noticing.
    if (abortSignal?.aborted) return this.result({ status: 'ABORTED' }, started);
    const machine = new StateMachine(this.prepare(this.definition, true) as unknown as StateMachineDefinition, {
      // The original definition was validated in checkBeforeRun; the prepared one holds local-only rewrites.
      validationOptions: { noValidate: true },
    });
    const handle = machine.run(this.input, {
      context: deepMerge(
        {
          Execution: {
            Id: this.executionArn,
            Name: this.name,
            RoleArn: `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT_ID}:role/${this.stateMachineName}-role`,
            RedriveCount: 0,
          },
          StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
          // Shared by reference with every (nested) context the library copies, so entering a state updates it.
          State: this.stateContext,
        },
        this.options.context ?? {},
      ),
      overrides: {
        taskResourceLocalHandlers: this.localHandlers(),
        // Without retryDelayMs the library's own delays are Step Functions' delays already.
        ...(this.options.retryDelayMs ? { retryIntervalOverrides: this.retryOverrides() } : {}),
      },
    });

    const onAbort = () => handle.abort();
    abortSignal?.addEventListener('abort', onAbort, { once: true });

    let listenerError: unknown;
    const consumed = (async () => {
      for await (const event of handle.eventLogs) {
        try {
          this.observe(event);
        } catch (error) {
          listenerError ??= error;
          handle.abort();
        }
      }
    })();

    let settled: Pick<LocalExecutionResult, 'status' | 'output' | 'error' | 'cause'>;
    try {
      settled = { status: 'SUCCEEDED', output: await handle.result };
    } catch (error) {
      settled = describeFailure(error);
    } finally {
      this.finished = true;
      // Ends the runner's own Wait timers, which the library's abort does not reach.
      this.internal.abort();
      abortSignal?.removeEventListener('abort', onAbort);
      await consumed;
    }
    if (listenerError !== undefined) throw listenerError;
    return this.result(settled, started);
  }

  private result(settled: Pick<LocalExecutionResult, 'status' | 'output' | 'error' | 'cause'>, started: number): LocalExecutionResult {
    return {
      executionArn: this.executionArn,
      name: this.name,
      ...settled,
      stateTransitions: this.stateTransitions,
      statesEntered: { ...this.statesEntered },
      taskInvocations: this.taskInvocations,
      durationMs: Date.now() - started,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Checks

  private checkBeforeRun(): void {
    assertUniqueStateNames(this.definition);
    assertExecutionName(this.name);
    const size = Buffer.byteLength(JSON.stringify(this.input), 'utf8');
    if (size > MAX_PAYLOAD_BYTES) throw new Error(`Execution input is ${size} bytes; Step Functions accepts ${MAX_PAYLOAD_BYTES}`);

    const states = allStates(this.definition);
    const problems = unsupportedFeatures(this.definition, states);
    if (problems.length > 0) throw new Error(`The definition uses what local runs cannot do:\n  ${problems.join('\n  ')}`);

    const taskNames = states.filter((s) => s.state.Type === 'Task').map((s) => s.name);
    const unbound = taskNames.filter((name) => !Object.hasOwn(this.options.handlers, name));
    const typeOf = new Map(states.map((s) => [s.name, s.state.Type]));
    const extra = Object.keys(this.options.handlers)
      .filter((name) => typeOf.get(name) !== 'Task')
      .map((name) => (typeOf.has(name) ? `${name} (a ${typeOf.get(name)} state)` : name));
    if (unbound.length > 0 || extra.length > 0) {
      throw new Error(
        [
          unbound.length > 0 ? `Task states without a local handler: ${unbound.join(', ')}` : '',
          extra.length > 0 ? `Handlers for no Task state of the definition: ${extra.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      );
    }

    const validation = this.options.validation ?? {};
    if (!validation.noValidate) {
      const key = JSON.stringify([validation, this.definition]);
      if (!validatedDefinitions.has(key)) {
        // The library validates in its constructor (asl-validator); this instance is only built for that.
        new StateMachine(this.definition as unknown as StateMachineDefinition, {
          validationOptions: { checkPaths: true, checkArn: true, ...validation },
        });
        validatedDefinitions.add(key);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Definition rewrites

  /** A copy of `definition` the library runs: Wait states become runner-handled Tasks, entries are observed. */
  private prepare(definition: AslDefinition, topLevel: boolean): AslDefinition {
    const states: Record<string, AslState> = {};
    for (const [name, original] of Object.entries(definition.States)) {
      let state: AslState = { ...original };
      if (state.Type === 'Task') {
        const timeout = state['TimeoutSeconds'];
        // The library defaults to 60 s (the ASL spec's default); Step Functions runs Lambda tasks without a limit.
        if (timeout === undefined && state['TimeoutSecondsPath'] === undefined) state['TimeoutSeconds'] = MAX_TIMER_SECONDS;
        else if (typeof timeout === 'number') state['TimeoutSeconds'] = Math.min(timeout, MAX_TIMER_SECONDS);
      } else if (state.Type === 'Wait') {
        state = waitAsTask(state);
        this.waitStates.add(name);
      } else if (state.Type === 'Parallel') {
        state['Branches'] = nestedDefinitions(name, original).map((branch) => this.prepare(branch, false));
      } else if (state.Type === 'Map') {
        const [processor] = nestedDefinitions(name, original);
        if (processor) state[original['ItemProcessor'] === undefined ? 'Iterator' : 'ItemProcessor'] = this.prepare(processor, false);
      }
      this.prepared.set(name, state);
      states[name] = state;
    }
    const prepared: AslDefinition = { ...definition, States: this.observeEntries(states) };
    const timeout = prepared['TimeoutSeconds'];
    if (topLevel && typeof timeout === 'number') prepared['TimeoutSeconds'] = Math.min(timeout, MAX_TIMER_SECONDS);
    return prepared;
  }

  /**
   * The library looks a state up in `States` exactly when it is about to enter it, synchronously before the state's
   * InputPath/Parameters are evaluated. Counting there is exact, unlike the event log, which drops the last events of
   * Map iterations and Parallel branches that finish as the execution ends.
   */
  private observeEntries(states: Record<string, AslState>): Record<string, AslState> {
    return new Proxy(states, {
      get: (target, property, receiver) => {
        if (typeof property === 'string' && Object.hasOwn(target, property) && !this.finished) this.entered(property);
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
  }

  private entered(name: string): void {
    this.stateTransitions += 1;
    this.statesEntered[name] = (this.statesEntered[name] ?? 0) + 1;
    this.stateContext.Name = name;
    this.stateContext.EnteredTime = new Date().toISOString();
    this.stateContext.RetryCount = 0;
    this.retries.delete(name);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Handlers

  private localHandlers(): Record<string, (input: JsonValue) => Promise<JsonValue>> {
    const handlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
    for (const { name, state } of allStates(this.definition)) {
      if (state.Type === 'Wait') handlers[name] = (input) => this.wait(name, state, input);
      if (state.Type !== 'Task') continue;
      const handler = this.options.handlers[name];
      if (!handler) continue;
      const integration = taskIntegration(state);
      handlers[name] = (input) => this.invoke(name, integration, handler, input);
    }
    return handlers;
  }

  private async invoke(name: string, integration: TaskIntegration, handler: LocalTaskHandler, input: JsonValue): Promise<JsonValue> {
    this.taskInvocations += 1;
    const book = this.bookOf(name);
    book.pending = undefined;
    book.decided = false;
    const invocation: Invocation = { abandoned: false };
    book.inFlight.add(invocation);
    const payload = integration === 'lambda-invoke' ? lambdaInvokePayload(input) : input;
    let result: JsonValue;
    try {
      // A copy, as a serialized Lambda event would be: the handler must not be able to change the execution's data.
      result = toJson(await handler(structuredClone(payload)), `result of Task state ${name}`);
    } catch (thrown) {
      const error = integration === 'other' ? serviceError(thrown) : lambdaError(thrown);
      // A handler that lost the race against TimeoutSeconds fails into the void, as its Lambda would.
      if (!invocation.abandoned) this.failed(name, error);
      throw error;
    } finally {
      book.inFlight.delete(invocation);
    }
    const size = Buffer.byteLength(JSON.stringify(result), 'utf8');
    if (size > MAX_PAYLOAD_BYTES) {
      const error = new StatesError(
        'States.DataLimitExceeded',
        `The result of Task state ${name} is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`,
        { retryable: false, catchable: false },
      );
      this.failed(name, error);
      throw error;
    }
    return integration === 'lambda-invoke' ? lambdaInvokeResponse(result) : result;
  }

  private async wait(name: string, original: AslState, input: JsonValue): Promise<JsonValue> {
    const parsed = waitInputSchema.safeParse(input);
    if (!parsed.success) throw runtimeError(`Wait state ${name} got unexpected input: ${z.prettifyError(parsed.error)}`);
    const given = parsed.data;
    let seconds: number;
    if (typeof original['Seconds'] === 'number') seconds = original['Seconds'];
    else if (typeof original['Timestamp'] === 'string') seconds = (Date.parse(original['Timestamp']) - Date.now()) / 1000;
    else if (given.seconds !== undefined) {
      if (typeof given.seconds !== 'number' || !Number.isInteger(given.seconds) || given.seconds < 0) {
        throw runtimeError(`SecondsPath of Wait state ${name} must point to a non-negative integer, got ${JSON.stringify(given.seconds)}`);
      }
      seconds = given.seconds;
    } else if (given.timestamp !== undefined) {
      const at = typeof given.timestamp === 'string' ? Date.parse(given.timestamp) : Number.NaN;
      if (Number.isNaN(at)) throw runtimeError(`TimestampPath of Wait state ${name} must point to a timestamp, got ${JSON.stringify(given.timestamp)}`);
      seconds = (at - Date.now()) / 1000;
    } else {
      throw runtimeError(`Wait state ${name} has no Seconds, Timestamp, SecondsPath or TimestampPath`);
    }
    seconds = Math.max(0, seconds);
    const ms = this.options.waitMs ? this.options.waitMs(name, seconds) : seconds * 1000;
    await sleep(Math.min(Math.max(0, ms), MAX_TIMER_SECONDS * 1000), this.internal.signal);
    return given.input;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Retries

  /**
   * Replicates the library's retrier choice for a failed Task state (first retrier whose ErrorEquals names the
   * error, `States.ALL` or `States.TaskFailed`; retry while below MaxAttempts) so the retry count, its delay and
   * `$$.State.RetryCount` are known before the library asks for the delay. Tracked per state name: concurrent Map
   * iterations running the same state share a count.
   */
  private failed(name: string, error: Error & { isRetryable?: boolean }): void {
    const retriers = retriersOf(this.prepared.get(name));
    const book = this.bookOf(name);
    book.pending = undefined;
    book.decided = true;
    if (error.isRetryable === false) return;
    const index = retriers.findIndex((r) =>
      r.ErrorEquals.some((e) => e === error.name || e === 'States.ALL' || (e === 'States.TaskFailed' && error.name !== 'States.Timeout')),
    );
    const retrier = retriers[index];
    if (!retrier) return;
    const attempt = (book.attempts[index] ?? 0) + 1;
    if (attempt > (retrier.MaxAttempts ?? 3)) return;
    book.attempts[index] = attempt;
    book.pending = { retrierIndex: index, attempt, delayMs: this.retryDelay(name, retrier, attempt) };
    this.predictedRetries.set(name, (this.predictedRetries.get(name) ?? 0) + 1);
    this.stateTransitions += 1;
    this.stateContext.Name = name;
    this.stateContext.RetryCount = attempt;
  }

  private bookOf(name: string): RetryBook {
    let book = this.retries.get(name);
    if (!book) {
      book = { attempts: [], decided: false, inFlight: new Set(), failures: 0, lastRead: 0, reading: false, delays: new Map() };
      this.retries.set(name, book);
    }
    return book;
  }

  private retryDelay(name: string, retrier: Retrier, attempt: number): number {
    const seconds = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
    const capped = retrier.MaxDelaySeconds === undefined ? seconds : Math.min(seconds, retrier.MaxDelaySeconds);
    const defaultMs = Math.round((retrier.JitterStrategy === 'FULL' ? Math.random() : 1) * capped * 1000);
    const ms = this.options.retryDelayMs ? this.options.retryDelayMs(name, attempt, defaultMs) : defaultMs;
    return Math.max(0, ms);
  }

  /**
   * The library reads `retryIntervalOverrides[state][i]` when a state with Retry fails, synchronously, for i = 0, 1, …
   * up to the retrier that matches the error; a getter answers with the delay for that retrier.
   */
  private retryOverrides(): Record<string, number[]> {
    const overrides: Record<string, number[]> = {};
    for (const [name, state] of this.prepared) {
      const retriers = retriersOf(state);
      if (retriers.length === 0) continue;
      const delayFor = (index: number) =>
        state.Type === 'Task' ? this.taskRetryDelay(name, index) : this.compositeRetryDelay(name, retriers, index);
      Object.defineProperty(overrides, name, {
        enumerable: true,
        get: () =>
          new Proxy<number[]>([], {
            get: (target, property) =>
              typeof property === 'string' && /^\d+$/.test(property) ? delayFor(Number(property)) : Reflect.get(target, property),
          }),
      });
    }
    return overrides;
  }

  /** The delay `failed` chose for the retrier that will match. */
  private taskRetryDelay(name: string, index: number): number | undefined {
    const book = this.bookOf(name);
    // A failure the handler wrapper did not see while a call is running: the library timed the call out.
    if (!book.decided && book.inFlight.size > 0) {
      for (const invocation of book.inFlight) invocation.abandoned = true;
      this.failed(name, new StatesError('States.Timeout', `Task state ${name} timed out`));
    }
    return book.pending?.retrierIndex === index ? book.pending.delayMs : undefined;
  }

  /**
   * Parallel/Map states fail with errors from inside their branches, which the runner does not see. Each failure's
   * reads happen in one synchronous run, so the first read in a new run starts a new failure, and the previous
   * failure of the same entry must have been retried by the retrier read last (the library stops at the match).
   */
  private compositeRetryDelay(name: string, retriers: Retrier[], index: number): number | undefined {
    const book = this.bookOf(name);
    if (!book.reading) {
      book.reading = true;
      queueMicrotask(() => (book.reading = false));
      if (book.failures > 0) book.attempts[book.lastRead] = (book.attempts[book.lastRead] ?? 0) + 1;
      book.failures += 1;
    }
    book.lastRead = index;
    const retrier = retriers[index];
    if (!retrier) return undefined;
    // Read up to three times per failure, and FULL jitter is random: choose once.
    const key = `${book.failures}:${index}`;
    let delay = book.delays.get(key);
    if (delay === undefined) {
      delay = this.retryDelay(name, retrier, (book.attempts[index] ?? 0) + 1);
      book.delays.set(key, delay);
    }
    return delay;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Events

  private observe(event: LocalExecutionEvent): void {
    if (event.type === 'StateRetried') {
      // Retries `failed` predicted are counted already; the rest (Parallel/Map states, Task timeouts) only show here.
      const predicted = this.predictedRetries.get(event.state.name) ?? 0;
      if (predicted > 0) {
        this.predictedRetries.set(event.state.name, predicted - 1);
        return this.forward(event);
      }
      this.stateTransitions += 1;
    }
    this.forward(event);
  }

  private forward(event: LocalExecutionEvent): void {
    if (!this.options.onEvent) return;
    const outward =
      'state' in event && this.waitStates.has(event.state.name) ? { ...event, state: { ...event.state, type: 'Wait' as const } } : event;
    this.options.onEvent(outward);
  }
}

interface Invocation {
  abandoned: boolean;
}

/** Retry bookkeeping for one state, for its current entry (entering the state again starts a new book). */
interface RetryBook {
  /** Retries so far per retrier index. */
  attempts: number[];
  /** A retry `failed` decided on and the library has not started yet. */
  pending?: { retrierIndex: number; attempt: number; delayMs: number } | undefined;
  /** Whether `failed` has judged the latest failure of this Task state (false while a call runs). */
  decided: boolean;
  /** Task calls still running; one still running when the state fails was timed out. */
  inFlight: Set<Invocation>;
  /** Parallel/Map: failures seen, the retrier index read last, whether a failure's reads are under way. */
  failures: number;
  lastRead: number;
  reading: boolean;
  /** Parallel/Map: delays chosen, by failure and retrier index. */
  delays: Map<string, number>;
}

const retrierSchema = z.looseObject({
  ErrorEquals: z.array(z.string()),
  IntervalSeconds: z.number().optional(),
  MaxAttempts: z.number().optional(),
  BackoffRate: z.number().optional(),
  MaxDelaySeconds: z.number().optional(),
  JitterStrategy: z.enum(['FULL', 'NONE']).optional(),
});
type Retrier = z.infer<typeof retrierSchema>;

function retriersOf(state: AslState | undefined): Retrier[] {
  if (!state || state['Retry'] === undefined) return [];
  return z.array(retrierSchema).parse(state['Retry']);
}

// ---------------------------------------------------------------------------------------------------------------
// Wait states as runner-handled Tasks

const WAIT_RESOURCE = `arn:${LOCAL_PARTITION}:states:::local:wait`;

/**
 * The library's Wait can only be overridden with a fixed duration per state name, which cannot scale a
 * SecondsPath/TimestampPath value. As a Task with the same InputPath/OutputPath and no ResultPath, the state's
 * output is unchanged (its effective input), and its Parameters let the library evaluate the paths.
 */
function waitAsTask(wait: AslState): AslState {
  const parameters: Record<string, string> = { 'input.$': '$' };
  if (typeof wait['SecondsPath'] === 'string') parameters['seconds.$'] = wait['SecondsPath'];
  if (typeof wait['TimestampPath'] === 'string') parameters['timestamp.$'] = wait['TimestampPath'];
  const task: AslState = { Type: 'Task', Resource: WAIT_RESOURCE, Parameters: parameters, TimeoutSeconds: MAX_TIMER_SECONDS };
  for (const field of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End']) {
    if (field in wait) task[field] = wait[field];
  }
  return task;
}

const waitInputSchema = z.object({
  input: z.custom<JsonValue>(() => true),
  seconds: z.unknown().optional(),
  timestamp: z.unknown().optional(),
});

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Lambda semantics

function lambdaInvokePayload(parameters: JsonValue): JsonValue {
  if (parameters !== null && typeof parameters === 'object' && !Array.isArray(parameters)) {
    return parameters['Payload'] ?? {};
  }
  return {};
}

/** What `arn:aws:states:::lambda:invoke` returns for a synchronous, successful invocation. */
function lambdaInvokeResponse(payload: JsonValue): JsonValue {
  const requestId = randomUUID();
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: {
      HttpHeaders: { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': requestId },
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: 200,
  };
}

/** An error the library matches by `name`; `isRetryable`/`isCatchable` are the flags it reads. */
class StatesError extends Error {
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;
  constructor(name: string, message: string, flags: { retryable: boolean; catchable: boolean } = { retryable: true, catchable: true }) {
    super(message);
    this.name = name;
    this.isRetryable = flags.retryable;
    this.isCatchable = flags.catchable;
  }
}

function runtimeError(message: string): StatesError {
  return new StatesError('States.Runtime', message, { retryable: false, catchable: false });
}

/**
 * As the Node.js Lambda runtime reports a thrown error: Error = `error.name` (its errorType), Cause = the JSON of
 * `{errorType, errorMessage, trace}`; a thrown non-Error gets errorType `typeof value`.
 */
function lambdaError(thrown: unknown): StatesError {
  const isError = thrown instanceof Error;
  const errorType = isError ? thrown.name : typeof thrown;
  const errorMessage = isError ? thrown.message : String(thrown);
  const trace = isError && thrown.stack ? thrown.stack.split('\n') : [];
  return new StatesError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

/** A handler standing in for a non-Lambda integration: its error name and message become Error and Cause. */
function serviceError(thrown: unknown): StatesError {
  return thrown instanceof Error ? new StatesError(thrown.name, thrown.message) : new StatesError('Error', String(thrown));
}

function describeFailure(error: unknown): Pick<LocalExecutionResult, 'status' | 'error' | 'cause'> {
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED' };
  if (error instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution ran longer than the definition\'s TimeoutSeconds' };
  }
  if (error instanceof ExecutionError && error.cause instanceof Error) {
    return { status: 'FAILED', error: error.cause.name, cause: error.cause.message };
  }
  throw error;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** A JSON value as it would cross a Lambda or Step Functions boundary (undefined → null, Dates → strings, ...). */
function toJson(value: unknown, what: string): JsonValue {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new Error(`The ${what} cannot be serialized to JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

// Step Functions: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control characters.
const INVALID_NAME_CHARACTER = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

function assertExecutionName(name: string): void {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARACTER.test(name)) {
    throw new Error(`"${name}" is not a valid execution name (1-80 characters, no whitespace or < > { } [ ] ? * " # % \\ ^ | ~ \` $ & , ; : /)`);
  }
}

const UNSUPPORTED_FIELDS = [
  'Assign',
  'Arguments',
  'Output',
  'Items',
  'ItemReader',
  'ItemBatcher',
  'ResultWriter',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
  'Credentials',
];

/** What aws-local-stepfunctions would ignore or misread without complaint. */
function unsupportedFeatures(definition: AslDefinition, states: { name: string; state: AslState }[]): string[] {
  const problems: string[] = [];
  if (definition['QueryLanguage'] === 'JSONata') problems.push('QueryLanguage JSONata (only JSONPath runs locally)');
  for (const { name, state } of states) {
    if (state['QueryLanguage'] === 'JSONata') problems.push(`${name}: QueryLanguage JSONata`);
    for (const field of UNSUPPORTED_FIELDS) if (field in state) problems.push(`${name}: ${field}`);
    const resource = state['Resource'];
    if (typeof resource === 'string' && /\.(waitForTaskToken|sync(:2)?)$/.test(resource)) {
      problems.push(`${name}: ${resource} (callback/sync integrations)`);
    }
    const parameters = state['Parameters'];
    if (state.Type === 'Task' && taskIntegration(state) === 'lambda-invoke' && parameters !== null && typeof parameters === 'object') {
      const invocationType = (parameters as Record<string, unknown>)['InvocationType'];
      if (invocationType !== undefined && invocationType !== 'RequestResponse') problems.push(`${name}: InvocationType ${String(invocationType)}`);
    }
  }
  return problems;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
