import '../emulator/polyfills';
import { setMaxListeners } from 'node:events';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { SweepState } from '../../lambdas/detect-tasks/detect-tasks';
import type { Clock } from '../../lambdas/shared/clock';
import { DeliveryRecords } from '../../lambdas/shared/records/delivery-records';
import { AutomationApi } from '../../lambdas/shared/epilot/automation-api';
import { EntityApi } from '../../lambdas/shared/epilot/entity-api';
import { EpilotHttp, type TokenProvider } from '../../lambdas/shared/epilot/http';
import { WorkflowsV1Engine } from '../../lambdas/shared/epilot/workflows-v1';
import type { Logger } from '../../lambdas/shared/logger';
import { type AllDeps, type FunctionDefinition, type Need, timeoutSecondsOf } from '../../lambdas/shared/runtime/function-definition';
import { bindHandler } from '../../lambdas/shared/runtime/lambda-handler';
import { type EpilotEndpoints, parseSettings, type RunnerSettings } from '../../lambdas/shared/config/settings';
import { type TaskKey, type TaskRecord, TaskRecords } from '../../lambdas/shared/records/task-records';
import { RecordConflictError } from '../../lambdas/shared/errors';
import type { TaskInput, TaskState } from '../../lambdas/shared/domain/task-state';
import type { WebhookHttpHandler, WebhookRequest, WebhookResponse } from '../../lambdas/webhook/webhook';
import { SWEEP_FUNCTIONS, TASK_FUNCTIONS, WEBHOOK_FUNCTION } from '../../lambdas/states';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../emulator/embedded-dynamodb';
import { invokeWithinLimits, type LambdaFault } from '../emulator/lambda-semantics';
import { type LocalExecutionResult, runLocalExecution } from '../emulator/state-machine-runner';
import {
  createLocalApp,
  findStateMachineDefinition,
  stateMachineDefinitions,
  synthesizeTemplate,
} from '../emulator/synthesized-definitions';
import { localOwnerIsGone, registerLocalRunner } from './local-owner';

export interface LocalRunnerOptions {
  endpoints: EpilotEndpoints;
  token: string;
  /** Reads the token instead of `token` (a test watching it being read again after a 401). */
  tokenProvider?: TokenProvider | undefined;
  settings: RunnerSettings;
  clock: Clock;
  logger: Logger;
  /** Folder for the embedded DynamoDB; undefined keeps records in memory only. */
  stateDir?: string | undefined;
  /** The webhook signing secret, for a runner that receives webhooks (`serve`). */
  webhookSecret?: string | undefined;
  /** Task executions running at once. */
  concurrency: number;
  /** How many times faster than real time `clock` runs; Wait states are shortened to match. Default 1. */
  timeScale?: number;
  /** Sees every state a task execution enters (live progress). */
  onTaskEvent?: (event: TaskProgressEvent) => void;
  /**
   * Sees every Lambda invocation (Task state handler call, retries and failed calls included) with how long it took
   * on `clock` (simulated milliseconds): what a benchmark needs to work out billed GB-seconds.
   */
  onInvocation?: (stateName: string, simulatedDurationMs: number) => void;
}

export interface TaskProgressEvent {
  executionName: string;
  input: TaskInput;
  stateName: string;
  polls?: number | undefined;
  /** On the last event (Succeeded, Failed, Aborted): how the execution ended, for a line that says what it did. */
  report?: TaskExecutionReport | undefined;
}

export interface TaskExecutionReport {
  name: string;
  input: TaskInput;
  status: LocalExecutionResult['status'];
  output: TaskState | undefined;
  error?: string | undefined;
  cause?: string | undefined;
  stateTransitions: number;
  lambdaInvocations: number;
  durationMs: number;
}

export interface SweepReport {
  sweep: SweepState | undefined;
  sweepStatus: LocalExecutionResult['status'];
  sweepError?: string | undefined;
  sweepTransitions: number;
  tasks: TaskExecutionReport[];
  epilotCalls: Record<string, number>;
}

/** What an interrupted runner leaves behind (see `interrupt`). */
export interface InterruptReport {
  /** Tasks whose automation this runner did not start: never begun, or claimed and their claim released. */
  notStarted: TaskKey[];
  /** Tasks whose automation run goes on in epilot (or may: its start was sent), in records the next runner takes over. */
  leftRunning: Array<TaskKey & { runId: string | undefined; stage: 'running' | 'start-sent' | 'patching' }>;
  /** Lambda handler calls still at work when the runner stopped waiting for them. */
  callsInFlight: number;
}

/** How long `interrupt` waits for handler calls in flight (an HTTP call, a start being sent) to answer. */
const INTERRUPT_WAIT_MS = 10_000;

/** See where Lambda timeouts are enforced: the least real time a handler gets before Sandbox.Timedout. */
const MIN_REAL_TIMEOUT_MS = 10_000;

/**
 * Runs the synthesized state machines on this machine: the same definitions `cdk deploy` ships, every Task state
 * bound to the same handler code the Lambdas run, against an embedded DynamoDB and any epilot API.
 */
export class LocalRunner {
  private readonly inFlight = new Set<Promise<TaskExecutionReport>>();
  private readonly usedNames = new Set<string>();
  private readonly runningNames = new Set<string>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  private reports: TaskExecutionReport[] = [];
  private readonly epilotCalls: Record<string, number> = {};
  private readonly deps: AllDeps;
  private readonly webhookHandler: WebhookHttpHandler;
  private readonly taskHandlers: Record<string, (event: unknown) => Promise<TaskState>>;
  private readonly sweepHandlers: Record<string, (event: unknown) => Promise<unknown>>;
  private readonly lambdaFaults: Array<{ stateName: string; fault: LambdaFault; remaining: number }> = [];
  /** Names this runner's executions write as record owners: they name this process, so a later runner knows it gone. */
  private readonly localOwner = registerLocalRunner();
  /** Aborted by `interrupt`: every execution of this runner ends at once. */
  private readonly interruption = interruptionController();
  /** Every task execution asked of this runner, by name, and those of them that got a slot and began. */
  private readonly requested = new Map<string, TaskInput>();
  private readonly begun = new Set<string>();
  /** Lambda handler calls at work now, other than status calls. */
  private readonly handlerCalls = new Set<Promise<unknown>>();

  static async create(options: LocalRunnerOptions): Promise<LocalRunner> {
    const app = createLocalApp();
    const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', {
      settings: { ...parseSettings({}), ...options.settings },
    });
    const template = synthesizeTemplate(stack);
    const definitions = stateMachineDefinitions(template);
    const dynamo = await startEmbeddedDynamoDb({ path: options.stateDir, template });
    const runner = new LocalRunner(options, dynamo, {
      task: findStateMachineDefinition(definitions, stack.taskStateMachine.stateMachine).definition,
      sweep: findStateMachineDefinition(definitions, stack.sweep.stateMachine).definition,
    });
    try {
      await runner.endLeasesOfGoneRunners();
    } catch (error) {
      await runner.stop();
      throw error;
    }
    return runner;
  }

  /**
   * A record held by a local runner whose process is gone (Ctrl-C, a crash) is not waited for: its lease is ended
   * now, so this runner's first sweep takes the task over instead of calling it "already running" until the lease
   * runs out. Owners that are not local runners on this machine keep the usual lease rules.
   */
  private async endLeasesOfGoneRunners(): Promise<void> {
    const records = await this.records.open();
    let ended = 0;
    for (const record of records.filter((candidate) => localOwnerIsGone(candidate.owner))) {
      try {
        await this.records.expireLease(record);
        ended += 1;
      } catch (error) {
        if (!(error instanceof RecordConflictError)) throw error;
      }
    }
    if (ended > 0) this.options.logger.info('Ended the leases of records held by local runners that are gone', { records: ended });
  }

  private constructor(
    private readonly options: LocalRunnerOptions,
    private readonly dynamo: EmbeddedDynamoDb,
    private readonly definitions: { task: object; sweep: object },
  ) {
    const http = new EpilotHttp({
      endpoints: options.endpoints,
      token: options.tokenProvider ?? (async () => options.token),
      timeoutMs: options.settings.httpTimeoutMs,
      clock: options.clock,
      // As the Lambdas log it (needs/epilot.ts).
      onAuthRefused: ({ call, status, message }) =>
        options.logger.error('epilot refused the API token; the secret is read again for the next call', { call, status, error: message }),
      onRequest: ({ api, operation }) => {
        const key = `${api}.${operation}`;
        this.epilotCalls[key] = (this.epilotCalls[key] ?? 0) + 1;
      },
    });
    this.deps = {
      settings: options.settings,
      clock: options.clock,
      logger: options.logger,
      workflows: new WorkflowsV1Engine(http),
      automations: new AutomationApi(http),
      entities: new EntityApi(http),
      records: new TaskRecords(dynamo.client, dynamo.tableName('TaskRecords'), options.clock),
      deliveries: new DeliveryRecords(dynamo.client, dynamo.tableName('TaskRecords')),
      starter: { startExecution: (name, input) => this.startTaskExecution(name, input) },
      secret: async () => {
        if (options.webhookSecret === undefined) throw new Error('this local runner was started without a webhook secret');
        return options.webhookSecret;
      },
    };
    // Built once, like a Lambda's module, and wrapped the way the Lambda wraps it: every execution calls these.
    const settings = { ...parseSettings({}), ...options.settings };
    const limited = (definitions: readonly FunctionDefinition[]) =>
      Object.fromEntries(
        definitions.map((definition) => {
          const stateName = definition.stateName;
          if (stateName === undefined) throw new Error(`${definition.id} backs no Task state`);
          const timeoutSeconds = timeoutSecondsOf(definition, settings);
          const handler = bindHandler(definition, this.deps);
          return [
            stateName,
            (event: unknown) => {
              const fault = this.takeLambdaFault(stateName);
              // Sped up, a 30 s timeout is 1.5-3 s of real time, which a busy laptop's event loop can eat on its
              // own: real work gets at least MIN_REAL_TIMEOUT_MS, so only a handler that is really stuck times out.
              // An injected hang does no work and times out exactly on schedule.
              const scaledMs = this.realMs(timeoutSeconds * 1000);
              // An interrupted runner starts no more work, whatever state an execution was about to enter.
              if (this.interruption.signal.aborted) return Promise.reject(new Error('The local runner was interrupted'));
              const call = invokeWithinLimits(() => handler(event as never, this.lambdaContext(definition.id, timeoutSeconds)), {
                functionName: definition.id,
                timeoutSeconds,
                realTimeoutMs: fault === 'timeout' ? scaledMs : Math.max(scaledMs, Math.min(MIN_REAL_TIMEOUT_MS, timeoutSeconds * 1000)),
                fault,
              });
              // A status call only reads, for up to a poll window: an interruption does not wait for it.
              return stateName === TASK_FUNCTIONS.getAutomationStatus.stateName ? call : this.tracked(call);
            },
          ];
        }),
      );
    this.taskHandlers = limited(Object.values(TASK_FUNCTIONS)) as Record<string, (event: unknown) => Promise<TaskState>>;
    this.sweepHandlers = Object.fromEntries(
      Object.entries(limited(Object.values(SWEEP_FUNCTIONS))).map(([name, handler]) => [name, this.timed(name, handler)]),
    );
    this.webhookHandler = bindStateless(WEBHOOK_FUNCTION, this.deps);
  }

  /** A call `interrupt` waits for: it may be writing a record or changing something in epilot. */
  private tracked<R>(call: Promise<R>): Promise<R> {
    this.handlerCalls.add(call);
    void call.then(
      () => this.handlerCalls.delete(call),
      () => this.handlerCalls.delete(call),
    );
    return call;
  }

  /** The handler, reporting each call's simulated duration to `onInvocation` (when set). */
  private timed<R>(stateName: string, handler: (event: unknown) => Promise<R>): (event: unknown) => Promise<R> {
    const onInvocation = this.options.onInvocation;
    if (!onInvocation) return handler;
    return async (event) => {
      const started = this.options.clock.now();
      try {
        return await handler(event);
      } finally {
        onInvocation(stateName, this.options.clock.now() - started);
      }
    };
  }

  /**
   * The next `times` invocations of the Task state's Lambda fail as on AWS: `throttle` (Lambda.TooManyRequestsException,
   * the handler does not run) or `timeout` (the handler hangs until its configured timeout: Sandbox.Timedout).
   */
  injectLambdaFault(fault: { stateName: string; fault: LambdaFault; times?: number }): void {
    const known = [...Object.values(TASK_FUNCTIONS), ...Object.values(SWEEP_FUNCTIONS)].some((d) => d.stateName === fault.stateName);
    if (!known) throw new Error(`injectLambdaFault: no Lambda backs a state named ${fault.stateName}`);
    this.lambdaFaults.push({ stateName: fault.stateName, fault: fault.fault, remaining: fault.times ?? 1 });
  }

  private takeLambdaFault(stateName: string): LambdaFault | undefined {
    const index = this.lambdaFaults.findIndex((entry) => entry.stateName === stateName);
    const entry = this.lambdaFaults[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.lambdaFaults.splice(index, 1);
    return entry.fault;
  }

  /** A fresh context per invocation: its remaining time runs down on the runner's clock from the function's timeout. */
  private lambdaContext(functionId: string, timeoutSeconds: number): Context {
    const endsAt = this.options.clock.now() + timeoutSeconds * 1000;
    return { ...localContext({ id: functionId }), getRemainingTimeInMillis: () => Math.max(0, endsAt - this.options.clock.now()) };
  }

  get records(): TaskRecords {
    return this.deps.records;
  }

  /**
   * One sweep: every page searched, every task execution it started run to its end. With `waitForTasks: false` it
   * returns when the sweep's own execution ends (`tasks`: only those that ended meanwhile): a schedule then runs on
   * time however long an automation hangs, and the claims in the task records keep a later sweep off running work.
   */
  async sweep(options: { waitForTasks?: boolean } = {}): Promise<SweepReport> {
    this.reports = [];
    const result = await runLocalExecution({
      definition: this.definitions.sweep,
      input: {},
      name: `sweep-${this.options.clock.now()}`,
      handlers: this.sweepHandlers,
      signal: this.interruption.signal,
      retryDelayMs: (_state, _attempt, delayMs) => this.realMs(delayMs),
    });
    if (options.waitForTasks !== false) await this.idle();
    return {
      sweep: result.status === 'SUCCEEDED' ? (result.output as SweepState) : undefined,
      sweepStatus: result.status,
      sweepError: result.status === 'SUCCEEDED' ? undefined : `${result.error ?? 'error'}: ${result.cause ?? ''}`,
      sweepTransitions: result.stateTransitions,
      tasks: [...this.reports],
      epilotCalls: this.callCounts(),
    };
  }

  /** Runs one task execution directly (as a webhook or a person starting it by hand would). */
  async runTask(input: TaskInput, name: string): Promise<TaskExecutionReport> {
    await this.startTaskExecution(name, input);
    await this.idle();
    const report = this.reports.find((candidate) => candidate.name === name);
    if (!report) throw new Error(`Task execution ${name} did not run`);
    return report;
  }

  /**
   * One webhook delivery, answered by the webhook receiver's Lambda handler (backed by this runner's records, its
   * epilot client and task executions run here), given the event a Lambda Function URL would hand it.
   */
  async receiveWebhook(request: WebhookRequest & { method?: string }): Promise<WebhookResponse> {
    const result = await this.webhookHandler(functionUrlEvent(request));
    return { statusCode: result.statusCode ?? 200, body: typeof result.body === 'string' ? result.body : '' };
  }

  /** Reports of the task executions that ended since the last sweep started. */
  taskReports(): TaskExecutionReport[] {
    return [...this.reports];
  }

  callCounts(): Record<string, number> {
    return { ...this.epilotCalls };
  }

  async stop(): Promise<void> {
    await this.idle();
    await this.dynamo.stop();
    // From now on a later runner in this process takes over what this one held, as it would after a crash.
    this.localOwner.end();
  }

  /** Whether `interrupt` was called: what this runner did since is no sweep's result. */
  get interrupted(): boolean {
    return this.interruption.signal.aborted;
  }

  /**
   * Stops at once (Ctrl-C): no task execution or sweep state starts any more, executions end (ABORTED), and Lambda
   * handler calls in flight are waited for, up to a bound, so a start being sent gets its answer recorded. Then each
   * task asked of this runner is looked up: a claim whose run was not started is released (its lease ended), so the
   * next sweep starts the task at once; a run started, or whose start was sent, is left running for the next sweep to
   * follow (it takes the record over once this process is gone). The automation runs themselves go on in epilot.
   */
  async interrupt(waitMs = INTERRUPT_WAIT_MS): Promise<InterruptReport> {
    this.interruption.abort();
    for (const wake of this.waiting.splice(0)) wake();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    const allAnswered = (async () => {
      while (this.handlerCalls.size > 0) await Promise.allSettled([...this.handlerCalls]);
    })();
    await Promise.race([allAnswered, waited]);
    clearTimeout(timer);
    const report: InterruptReport = { notStarted: [], leftRunning: [], callsInFlight: this.handlerCalls.size };
    for (const [name, input] of this.requested) {
      const key = { workflowExecutionId: input.workflowExecutionId, taskId: input.taskId };
      const record = this.begun.has(name) ? await this.records.get(key) : undefined;
      const outcome = record === undefined ? 'not-started' : await this.leaveBehind(record, this.localOwner.owner(name));
      if (outcome === 'not-started') report.notStarted.push(key);
      else if (outcome !== 'not-ours') report.leftRunning.push({ ...key, runId: record?.automationExecutionId, stage: outcome });
    }
    return report;
  }

  /** What becomes of a task's record when its execution `owner` was interrupted. */
  private async leaveBehind(
    record: TaskRecord,
    owner: string,
  ): Promise<'not-started' | 'not-ours' | InterruptReport['leftRunning'][number]['stage']> {
    if (record.owner !== owner || record.status === 'DONE') return 'not-ours';
    if (record.status === 'PATCHING') return 'patching';
    if (record.automationExecutionId !== undefined) return 'running';
    if (record.startAttemptedAt !== undefined) return 'start-sent';
    try {
      await this.records.expireLease(record);
    } catch (error) {
      // A call that outlived the wait wrote it meanwhile: its start may be on its way.
      if (error instanceof RecordConflictError) return 'start-sent';
      throw error;
    }
    return 'not-started';
  }

  /** Like Step Functions: an execution name is taken for good once used, whether it is still running or not. */
  private async startTaskExecution(name: string, input: TaskInput): Promise<'started' | 'running' | 'ended'> {
    if (this.usedNames.has(name)) return this.runningNames.has(name) ? 'running' : 'ended';
    this.usedNames.add(name);
    this.runningNames.add(name);
    this.requested.set(name, input);
    const execution = this.runWhenSlotFree(
      () => this.executeTask(name, input),
      () => notRun(name, input),
    ).finally(() => {
      this.runningNames.delete(name);
      // What ended before an interruption is not left behind by it (and a long `serve` keeps no list of it).
      if (!this.interruption.signal.aborted) {
        this.requested.delete(name);
        this.begun.delete(name);
      }
    });
    this.inFlight.add(execution);
    void execution.finally(() => this.inFlight.delete(execution));
    return 'started';
  }

  private async runWhenSlotFree<T>(work: () => Promise<T>, interrupted: () => T): Promise<T> {
    while (this.running >= this.options.concurrency && !this.interruption.signal.aborted) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.interruption.signal.aborted) return interrupted();
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  private async executeTask(name: string, input: TaskInput): Promise<TaskExecutionReport> {
    this.begun.add(name);
    const started = Date.now();
    let polls: number | undefined;
    const progress = (stateName: string, report?: TaskExecutionReport) =>
      this.options.onTaskEvent?.({ executionName: name, input, stateName, polls, report });
    const handlers = Object.fromEntries(
      Object.entries(this.taskHandlers).map(([stateName, handler]) => [
        stateName,
        async (event: unknown) => {
          progress(stateName);
          const output = await this.timed(stateName, handler)(event);
          polls = output.run?.polls ?? polls;
          return output;
        },
      ]),
    );
    const result = await runLocalExecution({
      definition: this.definitions.task,
      input,
      name,
      executionId: this.localOwner.owner(name),
      signal: this.interruption.signal,
      waitMs: (_state, seconds) => this.realMs(seconds * 1000),
      retryDelayMs: (_state, _attempt, delayMs) => this.realMs(delayMs),
      handlers,
    });
    const report: TaskExecutionReport = {
      name,
      input,
      status: result.status,
      output: result.status === 'SUCCEEDED' ? (result.output as TaskState) : undefined,
      error: result.error,
      cause: result.cause,
      stateTransitions: result.stateTransitions,
      lambdaInvocations: result.taskInvocations,
      durationMs: Date.now() - started,
    };
    this.reports.push(report);
    progress(result.status === 'SUCCEEDED' ? 'Succeeded' : result.status === 'FAILED' ? 'Failed' : 'Aborted', report);
    return report;
  }

  /** Simulated milliseconds (what the definition and the clock say) as real ones. */
  private realMs(simulatedMs: number): number {
    return simulatedMs / (this.options.timeScale ?? 1);
  }

  /** Resolves once no task execution is running (those started meanwhile included). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

/** The report of an execution an interrupted runner never began. */
function notRun(name: string, input: TaskInput): TaskExecutionReport {
  return { name, input, status: 'ABORTED', output: undefined, stateTransitions: 0, lambdaInvocations: 0, durationMs: 0 };
}

/** A Lambda's context, as far as Powertools reads it: enough for log lines to name the function. */
function localContext(definition: { id: string }): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: definition.id,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${definition.id}`,
    memoryLimitInMB: '256',
    awsRequestId: 'local',
    logGroupName: `/aws/lambda/${definition.id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
  } as Context;
}

function bindStateless<N extends Need, E, R>(definition: FunctionDefinition<N, E, R>, deps: AllDeps): (event: E) => Promise<R> {
  const handler = bindHandler(definition, deps);
  const context = localContext(definition);
  return (event) => handler(event, context);
}

/** What a Lambda Function URL hands the receiver, as far as it reads it. */
function functionUrlEvent(request: WebhookRequest & { method?: string }): APIGatewayProxyEventV2 {
  const method = request.method ?? 'POST';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/webhook',
    rawQueryString: '',
    headers: request.headers,
    body: request.body,
    isBase64Encoded: request.bodyIsBase64 === true,
    requestContext: { http: { method, path: '/webhook', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' } },
  } as APIGatewayProxyEventV2;
}

/** Each execution in flight listens on the signal, `concurrency` of them at once: not a leak past Node's default 10. */
function interruptionController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
