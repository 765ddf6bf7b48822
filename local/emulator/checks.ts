import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type AslDefinition, type AslState, isLambdaFunctionArn } from './asl';

/**
 * The emulator covers what the runner's state machines use and nothing more. Everything it has not been checked
 * against is refused here, before any handler runs, naming the state and the feature: aws-local-stepfunctions
 * would run much of it, but differently from Step Functions (no $$.State, a 60-s Task default, Map and Parallel
 * retries the runner cannot see), and a local run that quietly differs is worse than one that does not start.
 */

const TOP_LEVEL_FIELDS = new Set(['StartAt', 'States', 'Comment', 'QueryLanguage', 'TimeoutSeconds']);
const STATE_FIELDS: Record<string, ReadonlySet<string>> = {
  Task: new Set(['Type', 'Comment', 'Resource', 'Parameters', 'Retry', 'Catch', 'Next', 'End']),
  Choice: new Set(['Type', 'Comment', 'Choices', 'Default']),
  Wait: new Set(['Type', 'Comment', 'Seconds', 'Next', 'End']),
  Succeed: new Set(['Type', 'Comment']),
  Fail: new Set(['Type', 'Comment', 'Error', 'Cause', 'ErrorPath', 'CausePath']),
};
const RETRIER_FIELDS = new Set(['ErrorEquals', 'IntervalSeconds', 'MaxAttempts', 'BackoffRate', 'MaxDelaySeconds', 'JitterStrategy']);
const CATCHER_FIELDS = new Set(['ErrorEquals', 'Next', 'ResultPath']);
/** The Context Object fields the runner provides (see state-machine-runner's context). */
const CONTEXT_PATHS = new Set([
  '$$.Execution.Id',
  '$$.Execution.Name',
  '$$.Execution.Input',
  '$$.Execution.StartTime',
  '$$.StateMachine.Id',
  '$$.StateMachine.Name',
]);

/** One line per feature the definition uses that local runs do not support, each naming its state. */
export function unsupportedFeatures(definition: AslDefinition): string[] {
  const problems: string[] = [];
  for (const field of Object.keys(definition)) {
    if (!TOP_LEVEL_FIELDS.has(field)) problems.push(`top level: field ${field}`);
  }
  if (definition['QueryLanguage'] !== undefined && definition['QueryLanguage'] !== 'JSONPath') {
    const language = definition['QueryLanguage'];
    problems.push(
      `top level: QueryLanguage ${typeof language === 'string' ? language : JSON.stringify(language)} (only JSONPath runs locally)`,
    );
  }
  for (const [name, state] of Object.entries(definition.States)) problems.push(...stateProblems(state).map((p) => `${name}: ${p}`));
  return problems;
}

function stateProblems(state: AslState): string[] {
  const allowed = STATE_FIELDS[state.Type];
  if (!allowed) return [`${state.Type} states are not supported (only ${Object.keys(STATE_FIELDS).join(', ')})`];
  const problems = Object.keys(state)
    .filter((field) => !allowed.has(field))
    .map((field) => `${state.Type} field ${field} is not supported`);
  if (state.Type === 'Task' && !isLambdaFunctionArn(state['Resource'])) {
    problems.push(
      `Resource ${JSON.stringify(state['Resource'])} is not a Lambda function ARN (only payloadResponseOnly Lambda tasks run locally)`,
    );
  }
  problems.push(...listProblems('Retry', state['Retry'], RETRIER_FIELDS), ...listProblems('Catch', state['Catch'], CATCHER_FIELDS));
  for (const path of contextPaths(state['Parameters'])) {
    if (!CONTEXT_PATHS.has(path))
      problems.push(`Context Object path ${path} is not provided locally (only ${[...CONTEXT_PATHS].join(', ')})`);
  }
  return problems;
}

function listProblems(field: string, value: unknown, allowed: ReadonlySet<string>): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [`${field} is not an array`];
  return value.flatMap((entry: unknown, i) =>
    Object.keys(entry !== null && typeof entry === 'object' ? entry : {})
      .filter((key) => !allowed.has(key))
      .map((key) => `${field}[${i}] field ${key} is not supported`),
  );
}

/** Every `$$.` path of a payload template (values of keys ending in `.$`), nested objects included. */
function contextPaths(template: unknown): string[] {
  if (template === null || typeof template !== 'object') return [];
  return Object.entries(template).flatMap(([key, value]: [string, unknown]) => {
    if (key.endsWith('.$') && typeof value === 'string') return value.startsWith('$$') ? [value] : [];
    return contextPaths(value);
  });
}

/** Every Task state has a handler and every handler a Task state: a typo must not silently skip a state. */
export function bindingProblems(definition: AslDefinition, handlerNames: string[]): string | undefined {
  const typeOf = new Map(Object.entries(definition.States).map(([name, state]) => [name, state.Type]));
  const unbound = [...typeOf].filter(([name, type]) => type === 'Task' && !handlerNames.includes(name)).map(([name]) => name);
  const extra = handlerNames
    .filter((name) => typeOf.get(name) !== 'Task')
    .map((name) => (typeOf.has(name) ? `${name} (a ${typeOf.get(name)} state)` : name));
  const problems = [
    unbound.length > 0 ? `Task states without a local handler: ${unbound.join(', ')}` : '',
    extra.length > 0 ? `Handlers for no Task state of the definition: ${extra.join(', ')}` : '',
  ].filter(Boolean);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

// Step Functions: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control characters.
// eslint-disable-next-line no-control-regex -- control characters are exactly what Step Functions refuses in a name
const INVALID_NAME_CHARACTER = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

export function assertExecutionName(name: string): void {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARACTER.test(name)) {
    throw new Error(
      `"${name}" is not a valid execution name (1-80 characters, no whitespace or < > { } [ ] ? * " # % \\ ^ | ~ \` $ & , ; : /)`,
    );
  }
}

// asl-validator compiles its schemas on every call (~100 ms); a simulation runs the same definitions many times.
const validatedDefinitions = new Set<string>();

/** What Step Functions would reject on CreateStateMachine (asl-validator, run by the library's constructor). */
export function assertValidDefinition(definition: AslDefinition): void {
  const key = JSON.stringify(definition);
  if (validatedDefinitions.has(key)) return;
  new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkPaths: true, checkArn: true } });
  validatedDefinitions.add(key);
}
