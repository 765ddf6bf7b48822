import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError } from 'aws-local-stepfunctions';
import type { JsonValue } from './asl';

/**
 * What crosses the Lambda boundary and how a Lambda failure looks to Step Functions. aws-local-stepfunctions calls
 * local handlers with live objects and matches Retry/Catch on whatever it is thrown, so these rules are applied
 * here: a local run must not accept data or errors the deployed state machine would treat differently.
 */

/** Step Functions' limit on an execution's input and on any state's data. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/** An error the library matches by `name`; `isRetryable`/`isCatchable` are the flags it reads. */
export class StatesError extends Error {
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;
  constructor(name: string, message: string, flags: { retryable: boolean; catchable: boolean } = { retryable: true, catchable: true }) {
    super(message);
    this.name = name;
    this.isRetryable = flags.retryable;
    this.isCatchable = flags.catchable;
  }
}

/** A failure Step Functions does not let Retry or Catch (not even States.ALL) handle. */
export function terminalError(name: string, message: string): StatesError {
  return new StatesError(name, message, { retryable: false, catchable: false });
}

/**
 * As the Node.js Lambda runtime reports a thrown error: Error = `error.name` (its errorType), Cause = the JSON of
 * `{errorType, errorMessage, trace}`; a thrown non-Error gets errorType `typeof value`.
 */
export function lambdaError(thrown: unknown): StatesError {
  const isError = thrown instanceof Error;
  const errorType = isError ? thrown.name : typeof thrown;
  const errorMessage = isError ? thrown.message : String(thrown);
  const trace = isError && thrown.stack ? thrown.stack.split('\n') : [];
  return new StatesError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

/**
 * Lambda-level failures, as Step Functions' lambda:invoke integration reports them: the function is throttled
 * (`Lambda.TooManyRequestsException`, the handler never runs), or killed at its configured timeout. For a timeout
 * the Node.js runtime reports errorType `Sandbox.Timedout` ("Task timed out after N seconds"), and that is the error
 * name Retry/Catch match; `States.Timeout` is only for a Task state's own TimeoutSeconds, which checks.ts refuses.
 * Injected faults: `throttle` fails the invocation at once, `timeout` makes the handler hang until its timeout.
 */
export type LambdaFault = 'throttle' | 'timeout';

export interface LambdaLimits {
  functionName: string;
  timeoutSeconds: number;
  /** The timeout in real milliseconds (the local runner may run faster than real time). */
  realTimeoutMs: number;
  fault?: LambdaFault | undefined;
}

/**
 * Runs one invocation within its limits. A handler that runs past its timeout is not stopped (JavaScript cannot
 * stop it; AWS freezes the sandbox): its result is dropped and Step Functions sees Sandbox.Timedout.
 */
export async function invokeWithinLimits<T>(run: () => Promise<T>, limits: LambdaLimits): Promise<T> {
  if (limits.fault === 'throttle') {
    throw new StatesError(
      'Lambda.TooManyRequestsException',
      `Rate Exceeded. (Service: Lambda, Status Code: 429, function ${limits.functionName})`,
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const errorMessage = `${new Date().toISOString()} Task timed out after ${limits.timeoutSeconds.toFixed(2)} seconds`;
      reject(new StatesError('Sandbox.Timedout', JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage })));
    }, limits.realTimeoutMs);
  });
  const invocation = limits.fault === 'timeout' ? new Promise<never>(() => undefined) : run();
  try {
    return await Promise.race([invocation, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** A JSON value as it would cross a Lambda or Step Functions boundary (undefined → null, Dates → strings, ...). */
export function toJson(value: unknown, what: string): JsonValue {
  if (value === undefined) return null;
  // undefined for functions and symbols, whatever the type says.
  let text: unknown;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new Error(`The ${what} cannot be serialized to JSON: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return typeof text === 'string' ? (JSON.parse(text) as JsonValue) : null;
}

export function payloadBytes(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

export type LocalExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The library's rejection of `result` as Step Functions reports the execution's end. */
export function describeFailure(error: unknown): { status: LocalExecutionStatus; error: string; cause: string } {
  if (error instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: "The execution ran longer than the definition's TimeoutSeconds" };
  }
  if (error instanceof ExecutionAbortedError) return { status: 'ABORTED', error: 'States.Aborted', cause: 'The execution was stopped' };
  if (error instanceof ExecutionError && error.cause instanceof Error) {
    return { status: 'FAILED', error: error.cause.name, cause: error.cause.message };
  }
  throw error;
}
