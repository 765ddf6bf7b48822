import type { Context } from 'aws-lambda';
import type { SettingGroup, Settings } from '../config/settings';
import type { DeliveryStore } from '../records/delivery-records';
import type { RunnerDeps } from './runner-deps';

/**
 * What a runner function may need. Each need is bound in one place on each side: `lib/constructs/bindings.ts` gives
 * the function the environment variables and the IAM grant together, `lambda-deps.ts` builds the clients from those
 * variables, and the local runner hands over its own. A function receives nothing it did not ask for.
 */
export const NEEDS = {
  /** The three epilot APIs, with the token read from Secrets Manager. */
  epilot: { deps: ['workflows', 'automations', 'entities'], settings: ['epilot'], resource: undefined },
  /** Timings, leases and the sweep's search (the `runner` settings). */
  settings: { deps: ['settings'], settings: ['runner'], resource: undefined },
  /** Read and conditionally replace task records. */
  taskRecords: { deps: ['records'], settings: [], resource: 'TASK_TABLE_NAME' },
  /** Also query the open-records index: only the sweep resumes what dead executions left behind. */
  openRecordQuery: { deps: ['records'], settings: [], resource: 'TASK_TABLE_NAME' },
  /** Webhook delivery records, for de-duplication (they share the task table). */
  deliveryRecords: { deps: ['deliveries'], settings: [], resource: 'TASK_TABLE_NAME' },
  /** Start task executions and tell a running one from an ended one. */
  taskExecutions: { deps: ['starter'], settings: [], resource: 'TASK_STATE_MACHINE_ARN' },
  /** The webhook signing secret, read from Secrets Manager. */
  webhookSecret: { deps: ['secret'], settings: ['webhook'], resource: undefined },
} as const satisfies Record<
  string,
  { deps: ReadonlyArray<keyof AllDeps>; settings: readonly SettingGroup[]; resource: string | undefined }
>;

export type Need = keyof typeof NEEDS;

/** Everything any function may be given; a function gets `logger`, `clock` and what its needs name. */
export interface AllDeps extends RunnerDeps {
  deliveries: DeliveryStore;
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: () => Promise<string>;
}

type DepsOfNeed<N extends Need> = (typeof NEEDS)[N]['deps'][number];
export type DepsOf<N extends Need> = Pick<AllDeps, DepsOfNeed<N> | 'logger' | 'clock'>;

export type FunctionHandler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;

/** How big a function is; numbers may depend on the deployment's settings. */
export interface FunctionSizing {
  memoryMb?: number;
  timeoutSeconds?: number;
  reservedConcurrency?: number;
}

/** What building a need's clients may read: the settings and the environment (resource variables). */
export interface ProvideContext {
  settings: Settings;
  env: Record<string, string | undefined>;
}

/**
 * A need as a function names it in its state.ts. Each need's clients are built by its own module under `needs/`,
 * so a Lambda bundles only the client code of the needs it has (find-task carries no HTTP client).
 */
export interface NeedHandle<N extends Need> {
  name: N;
  provide: (context: ProvideContext) => Partial<AllDeps>;
}

/** A need's builder; it must build every dependency the need stands for. */
export const defineNeed = <N extends Need>(name: N, provide: (context: ProvideContext) => Pick<AllDeps, DepsOfNeed<N>>): NeedHandle<N> => ({
  name,
  provide,
});

export interface FunctionDefinition<N extends Need = Need, E = never, R = unknown> {
  /** The construct id of the function (`ClaimTask`). */
  id: string;
  /** The folder under `lambdas/` holding its `handler.ts`. */
  folder: string;
  /** The Task state it backs, as the console shows it; the webhook receiver backs none. */
  stateName: string | undefined;
  description: string;
  needs: ReadonlyArray<NeedHandle<N>>;
  create: (deps: DepsOf<N>) => (event: E, context?: Context) => Promise<R>;
  sizing?: (settings: Settings) => FunctionSizing;
}

/** The function's Lambda timeout in seconds: what the stack configures and the local runner enforces. */
export function timeoutSecondsOf(definition: Pick<FunctionDefinition, 'sizing'>, settings: Settings): number {
  return definition.sizing?.(settings).timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
}

const DEFAULT_TIMEOUT_SECONDS = 30;

export const defineFunction = <N extends Need, E = unknown, R = unknown>(
  definition: FunctionDefinition<N, E, R>,
): FunctionDefinition<N, E, R> => definition;

export const needNames = <N extends Need>(definition: { needs: ReadonlyArray<NeedHandle<N>> }): N[] =>
  definition.needs.map((need) => need.name);

/** The setting groups a function's environment carries. */
export function settingGroupsOf(needs: readonly Need[]): SettingGroup[] {
  return [...new Set(needs.flatMap((need) => NEEDS[need].settings))];
}

/** The resource variables (table name, state machine ARN) a function's environment carries. */
export function resourcesOf(needs: readonly Need[]): string[] {
  return [...new Set(needs.flatMap((need) => NEEDS[need].resource ?? []))];
}

/** Just what `needs` allow, out of everything a runner has built. */
export function depsFor<N extends Need>(needs: readonly N[], all: AllDeps): DepsOf<N> {
  const keys = new Set<keyof AllDeps>(['logger', 'clock', ...needs.flatMap((need) => NEEDS[need].deps)]);
  return Object.fromEntries([...keys].map((key) => [key, all[key]])) as DepsOf<N>;
}
