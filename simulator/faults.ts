import * as z from 'zod';

/**
 * Fault injection. Random faults are drawn per request from the injected `random`, in a fixed order and only
 * for the rates that are set, so a seeded `random` gives the same faults run after run. Scripted faults are
 * consumed first, one per matching call.
 */

/**
 * The operations served, keyed `${api}.${operationId}` with epilot's OpenAPI operationIds — the same keys the
 * local runner counts its calls by (EpilotHttp's onRequest). The API is part of the key because operationIds are
 * unique per API only: the workflow and the automation API both have a `getExecution`.
 */
export const OPERATIONS = [
  'entity.searchEntities',
  'workflow.getExecution',
  'workflow.updateStep',
  'automation.startExecution',
  'automation.getExecutions',
  'automation.getExecution',
  'automation.cancelExecution',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

const rate = z.number().min(0).max(1);
export const FaultOptionsSchema = z.strictObject({
  /** Share of requests answered 502 or 503 (with the API's error body) without being processed. */
  serverErrorRate: rate.optional(),
  /** Share of requests answered 429 with `Retry-After` without being processed. */
  tooManyRequestsRate: rate.optional(),
  retryAfterSeconds: z.int().min(0).optional(),
  /** Share of requests whose socket is destroyed without an answer (and without processing). */
  resetRate: rate.optional(),
  /** Added before answering: fixed, or uniform between min and max. */
  latencyMs: z.union([z.int().min(0), z.strictObject({ min: z.int().min(0), max: z.int().min(0) })]).optional(),
  /** Share of automation.startExecution calls whose run IS created but whose response is lost. */
  lostStartResponseRate: rate.optional(),
  /** How a lost response shows: the socket is destroyed (default), or a 502 arrives instead of the 201. */
  lostResponseAs: z.enum(['reset', 'badGateway']).optional(),
  /** Share of automation.startExecution calls that are processed (the run is created) and answered 201 with no body. */
  emptyStartBodyRate: rate.optional(),
  /**
   * Share of automation.startExecution calls held `slowStartMs` (real ms) before they are processed: with a hold
   * longer than the client's HTTP timeout, the client gives up and the run is created afterwards (a slow create).
   */
  slowStartRate: rate.optional(),
  slowStartMs: z.int().min(0).optional(),
  /** Share of step PATCHes setting a final status that are answered 200 as if applied, and dropped. */
  droppedFinalPatchRate: rate.optional(),
  // How epilot's run list may hide a run that exists (the exactly-once review, #1 and #6). A start that hangs past
  // the client's timeout and creates its run afterwards is the scripted `{delayMs}` fault on startExecution.
  /** A newly created run is left out of the run list (getExecutions) for this many (simulated) ms. */
  runListLagMs: z.int().min(0).optional(),
  /** Runs started with a workflow_context are listed only with `include_flows=true` (epilot's default: false). */
  flowRunsNeedIncludeFlows: z.boolean().optional(),
  /** The first page of every run list also carries one unrelated run that breaks the schema (no execution_status). */
  malformedRunInList: z.boolean().optional(),
  // People and epilot acting on steps while the runner works (the exactly-once review, #2, #4 and #5). They are
  // edits made in epilot itself, not PATCH requests: stepPatchCount does not count them.
  /**
   * A person finalizes the step of every run started for a workflow task, `afterMs` (simulated) after its run was
   * created, while the run goes on (it is not cancelled).
   */
  personFinalizesStep: z
    .strictObject({
      status: z.enum(['COMPLETED', 'SKIPPED', 'FAILED']),
      afterMs: z.int().min(0),
      /** Share of runs whose step a person finishes (default 1: every run). */
      rate: rate.optional(),
    })
    .optional(),
  /**
   * epilot reopens an AUTOMATION step `afterMs` (simulated) after a PATCH made it final (a loop, or a person), at
   * most `times` times per step (default 1): the status goes back to `status` (default PENDING), statusLastUpdated
   * moves, and automationConfig keeps the old executionId.
   */
  reopenStepAfterFinalPatch: z
    .strictObject({
      afterMs: z.int().min(0),
      status: z.enum(['PENDING', 'IN_PROGRESS']).optional(),
      times: z.int().min(1).optional(),
      /** Share of final PATCHes that get a reopen (default 1: every one, up to `times`). */
      rate: rate.optional(),
    })
    .optional(),
  /** For this many (simulated) ms after a step PATCH, GET execution still serves that step as it was before the PATCH. */
  staleStepReadMs: z.int().min(0).optional(),
});
export type FaultOptions = z.infer<typeof FaultOptionsSchema>;

export type ScriptedFaultKind =
  | 'serverError'
  | 'tooManyRequests'
  | 'reset'
  /** The call IS processed (state changes), then the response is lost. */
  | 'lostResponse'
  /** The call IS processed (a start creates its run), then answered with its status and an empty body. */
  | 'processedEmptyBody'
  /**
   * A burst of 401s, as while the API token is being rotated: with `times: N` the next N matching calls (operation
   * `'*'`: calls to any API) answer 401 with the API's error body, without being processed.
   */
  | 'unauthorized'
  /** The call is answered as if processed (200 with the result) but is NOT processed: a step PATCH that did not stick. */
  | 'droppedWrite'
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { delayMs: number };

export interface ScriptedFault {
  operation: OperationName | '*';
  /** How many of the next matching calls get it. Default 1. */
  times?: number;
  /** Only calls whose body sets a final step status (COMPLETED, SKIPPED, FAILED) match: the runner's result patch. */
  onlyFinalStepStatus?: boolean;
  fault: ScriptedFaultKind;
}

/** What to do with one request. */
export interface FaultPlan {
  delayMs: number;
  before: { kind: 'proceed' } | { kind: 'reset' } | { kind: 'respond'; status: number; body: unknown; headers?: Record<string, string> };
  loseResponse: false | 'reset' | 'badGateway' | 'emptyBody';
  /** Answer as if processed, without processing (`droppedWrite`). */
  dropWrite: boolean;
  /** Short name for the traffic record, e.g. `scripted:reset` or `random:429`. */
  label: string | undefined;
}

const FINAL_STEP_STATUS_BODY = z.looseObject({ status: z.enum(['COMPLETED', 'SKIPPED', 'FAILED']) });

export class FaultInjector {
  private options: FaultOptions = {};
  private scripted: Array<{ operation: OperationName | '*'; remaining: number; onlyFinalStepStatus: boolean; fault: ScriptedFaultKind }> =
    [];
  private serverErrorToggle = false;

  constructor(
    private readonly random: () => number,
    options: FaultOptions | undefined,
  ) {
    this.set(options ?? {});
  }

  set(options: FaultOptions): void {
    const parsed = FaultOptionsSchema.safeParse(options);
    if (!parsed.success)
      throw new Error(
        `Invalid fault options: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
      );
    this.options = parsed.data;
  }

  script(fault: ScriptedFault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`scriptFault: times must be a positive integer, got ${String(fault.times)}`);
    this.scripted.push({
      operation: fault.operation,
      remaining: times,
      onlyFinalStepStatus: fault.onlyFinalStepStatus ?? false,
      fault: fault.fault,
    });
  }

  /** How long after a PATCH a GET still serves the step as it was before it. */
  staleStepReadMs(): number {
    return this.options.staleStepReadMs ?? 0;
  }

  /** Whether a person finishes the step of the run just started (drawn only when a share below 1 is set). */
  personFinalizesThisRun(): FaultOptions['personFinalizesStep'] {
    return this.drawn(this.options.personFinalizesStep);
  }

  /** Whether epilot reopens the step a PATCH just made final (drawn only when a share below 1 is set). */
  reopensThisStep(): FaultOptions['reopenStepAfterFinalPatch'] {
    return this.drawn(this.options.reopenStepAfterFinalPatch);
  }

  private drawn<T extends { rate?: number | undefined }>(option: T | undefined): T | undefined {
    if (option === undefined) return undefined;
    if (option.rate === undefined || option.rate >= 1) return option;
    return this.random() < option.rate ? option : undefined;
  }

  /** The run-list faults in force (they shape the listing itself, not one request's fate). */
  runList(): Pick<FaultOptions, 'runListLagMs' | 'flowRunsNeedIncludeFlows' | 'malformedRunInList'> {
    const { runListLagMs, flowRunsNeedIncludeFlows, malformedRunInList } = this.options;
    return { runListLagMs, flowRunsNeedIncludeFlows, malformedRunInList };
  }

  clearScripted(): void {
    this.scripted = [];
  }

  plan(operation: OperationName, errorBody: (status: number, message: string) => unknown, requestBody?: unknown): FaultPlan {
    const setsFinalStatus = FINAL_STEP_STATUS_BODY.safeParse(requestBody).success;
    const scriptedIndex = this.scripted.findIndex(
      (entry) => (entry.operation === operation || entry.operation === '*') && (!entry.onlyFinalStepStatus || setsFinalStatus),
    );
    const entry = this.scripted[scriptedIndex];
    if (entry) {
      entry.remaining--;
      if (entry.remaining <= 0) this.scripted.splice(scriptedIndex, 1);
      return this.scriptedPlan(entry.fault, errorBody);
    }

    const o = this.options;
    const plan: FaultPlan = { delayMs: 0, before: { kind: 'proceed' }, loseResponse: false, dropWrite: false, label: undefined };
    if (o.latencyMs !== undefined) {
      plan.delayMs =
        typeof o.latencyMs === 'number'
          ? o.latencyMs
          : o.latencyMs.min + Math.floor(this.random() * (Math.max(o.latencyMs.max, o.latencyMs.min) - o.latencyMs.min + 1));
    }
    if (o.resetRate && this.random() < o.resetRate) return { ...plan, before: { kind: 'reset' }, label: 'random:reset' };
    if (o.serverErrorRate && this.random() < o.serverErrorRate) {
      // Alternate rather than draw again, so the status does not shift the random sequence.
      this.serverErrorToggle = !this.serverErrorToggle;
      const status = this.serverErrorToggle ? 503 : 502;
      return {
        ...plan,
        before: { kind: 'respond', status, body: errorBody(status, status === 503 ? 'Service Unavailable' : 'Bad Gateway') },
        label: `random:${status}`,
      };
    }
    if (o.tooManyRequestsRate && this.random() < o.tooManyRequestsRate)
      return { ...plan, before: this.tooManyRequests(errorBody), label: 'random:429' };
    if (operation === 'automation.startExecution' && o.lostStartResponseRate && this.random() < o.lostStartResponseRate) {
      return { ...plan, loseResponse: o.lostResponseAs ?? 'reset', label: 'random:lostStartResponse' };
    }
    if (operation === 'automation.startExecution' && o.emptyStartBodyRate && this.random() < o.emptyStartBodyRate)
      return { ...plan, loseResponse: 'emptyBody', label: 'random:emptyStartBody' };
    if (operation === 'automation.startExecution' && o.slowStartRate && this.random() < o.slowStartRate)
      return { ...plan, delayMs: plan.delayMs + (o.slowStartMs ?? 0), label: 'random:slowStart' };
    if (operation === 'workflow.updateStep' && setsFinalStatus && o.droppedFinalPatchRate && this.random() < o.droppedFinalPatchRate)
      return { ...plan, dropWrite: true, label: 'random:droppedFinalPatch' };
    return plan;
  }

  private scriptedPlan(fault: ScriptedFaultKind, errorBody: (status: number, message: string) => unknown): FaultPlan {
    const base: FaultPlan = { delayMs: 0, before: { kind: 'proceed' }, loseResponse: false, dropWrite: false, label: undefined };
    if (fault === 'serverError')
      return { ...base, before: { kind: 'respond', status: 503, body: errorBody(503, 'Service Unavailable') }, label: 'scripted:503' };
    if (fault === 'tooManyRequests') return { ...base, before: this.tooManyRequests(errorBody), label: 'scripted:429' };
    if (fault === 'reset') return { ...base, before: { kind: 'reset' }, label: 'scripted:reset' };
    if (fault === 'unauthorized')
      return { ...base, before: { kind: 'respond', status: 401, body: errorBody(401, 'Unauthorized') }, label: 'scripted:401' };
    if (fault === 'droppedWrite') return { ...base, dropWrite: true, label: 'scripted:droppedWrite' };
    if (fault === 'processedEmptyBody') return { ...base, loseResponse: 'emptyBody', label: 'scripted:processedEmptyBody' };
    if (fault === 'lostResponse') return { ...base, loseResponse: this.options.lostResponseAs ?? 'reset', label: 'scripted:lostResponse' };
    if ('delayMs' in fault) return { ...base, delayMs: fault.delayMs, label: `scripted:delay${fault.delayMs}` };
    const body = fault.body === undefined ? errorBody(fault.status, `Simulated ${fault.status}`) : fault.body;
    return {
      ...base,
      before: { kind: 'respond', status: fault.status, body, ...(fault.headers ? { headers: fault.headers } : {}) },
      label: `scripted:${fault.status}`,
    };
  }

  private tooManyRequests(errorBody: (status: number, message: string) => unknown): FaultPlan['before'] {
    const seconds = this.options.retryAfterSeconds ?? 1;
    return {
      kind: 'respond',
      status: 429,
      body: errorBody(429, 'Too many requests. Try again later.'),
      headers: { 'Retry-After': String(seconds) },
    };
  }
}

/** mulberry32: a small seeded PRNG for `random`, so fault decisions repeat run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
