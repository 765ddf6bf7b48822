import { z } from 'zod';

/**
 * The slice of the Amazon States Language (JSONPath flavour) the local tooling reads. States stay loose objects:
 * the definition is handed to aws-local-stepfunctions as is, this code only needs to find and walk states.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const stateSchema = z.looseObject({ Type: z.string() });
export type AslState = z.infer<typeof stateSchema>;

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [field: string]: unknown;
}

const definitionSchema: z.ZodType<AslDefinition> = z.looseObject({
  StartAt: z.string(),
  States: z.record(z.string(), stateSchema),
});

export function parseAslDefinition(value: unknown, what = 'state machine definition'): AslDefinition {
  const parsed = definitionSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${what} is not an ASL definition: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export interface VisitedState {
  name: string;
  state: AslState;
  /** Names of the enclosing Parallel/Map states, outermost first. */
  parents: string[];
}

/** Every state of the definition, including those inside Parallel branches and Map processors, depth first. */
export function allStates(definition: AslDefinition): VisitedState[] {
  const visited: VisitedState[] = [];
  const walk = (current: AslDefinition, parents: string[]) => {
    for (const [name, state] of Object.entries(current.States)) {
      visited.push({ name, state, parents });
      for (const nested of nestedDefinitions(name, state)) walk(nested, [...parents, name]);
    }
  };
  walk(definition, []);
  return visited;
}

/** The state machines a Parallel (one per branch) or Map (its processor) state runs. */
export function nestedDefinitions(name: string, state: AslState): AslDefinition[] {
  if (state.Type === 'Parallel') {
    const branches = z.array(z.unknown()).safeParse(state['Branches']);
    if (!branches.success) throw new Error(`Parallel state "${name}" has no Branches array`);
    return branches.data.map((branch, i) => parseAslDefinition(branch, `branch ${i} of Parallel state "${name}"`));
  }
  if (state.Type === 'Map') {
    const processor = state['ItemProcessor'] ?? state['Iterator'];
    if (processor === undefined) throw new Error(`Map state "${name}" has neither ItemProcessor nor Iterator`);
    return [parseAslDefinition(processor, `processor of Map state "${name}"`)];
  }
  return [];
}

/**
 * Step Functions requires state names to be unique across the whole machine, nested ones included; local handlers
 * are bound by name, so a duplicate would silently bind two states to one handler.
 */
export function assertUniqueStateNames(definition: AslDefinition): void {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const { name } of allStates(definition)) {
    if (seen.has(name)) duplicates.add(name);
    seen.add(name);
  }
  if (duplicates.size > 0) throw new Error(`State names must be unique across the state machine: ${[...duplicates].join(', ')}`);
}

const LAMBDA_INVOKE = /^arn:[a-z-]+:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$/;

/**
 * How a Task state reaches its target, which decides what the target receives and what it must return:
 * - `lambda-arn`: Resource is the function ARN (CDK `payloadResponseOnly`); the function gets the effective
 *   Parameters (or the state input) and its return value is the task result.
 * - `lambda-invoke`: Resource is `arn:aws:states:::lambda:invoke`; the function gets `Parameters.Payload` and the
 *   task result is the Invoke response `{ Payload, StatusCode, ExecutedVersion, ... }`.
 * - `other`: any other integration; the local handler stands in for the whole service call.
 */
export type TaskIntegration = 'lambda-arn' | 'lambda-invoke' | 'other';

export function taskIntegration(state: AslState): TaskIntegration {
  const resource = state['Resource'];
  if (typeof resource !== 'string') return 'other';
  if (LAMBDA_INVOKE.test(resource)) return 'lambda-invoke';
  if (LAMBDA_FUNCTION_ARN.test(resource)) return 'lambda-arn';
  return 'other';
}

/** The function a Lambda-invoking Task state calls as written in the definition (ARN or name), if static. */
export function invokedFunction(state: AslState): string | undefined {
  switch (taskIntegration(state)) {
    case 'lambda-arn':
      return typeof state['Resource'] === 'string' ? state['Resource'] : undefined;
    case 'lambda-invoke': {
      const parameters = z.looseObject({ FunctionName: z.string().optional() }).safeParse(state['Parameters']);
      return parameters.success ? parameters.data.FunctionName : undefined;
    }
    case 'other':
      return undefined;
  }
}
