/**
 * Errors that cross the Lambda → Step Functions boundary. Each class carries a literal `name` (minification
 * would mangle class names, and Step Functions matches on the Lambda's errorType, which is `error.name`). The
 * CDK code imports `ErrorNames` for its Retry/Catch rules, so the two cannot drift apart.
 */
export const ErrorNames = {
  epilotTransient: 'EpilotTransientError',
  epilotPermanent: 'EpilotPermanentError',
  epilotAuth: 'EpilotAuthError',
  epilotRateLimited: 'EpilotRateLimitedError',
  invalidEpilotData: 'InvalidEpilotDataError',
  invalidStateInput: 'InvalidStateInputError',
  recordConflict: 'RecordConflictError',
  ownershipLost: 'OwnershipLostError',
  startOutcomeUnknown: 'StartOutcomeUnknownError',
} as const;

/** epilot answered 5xx or 429, timed out, or the connection failed: trying again later may work. */
export class EpilotTransientError extends Error {
  override readonly name = ErrorNames.epilotTransient;
}

/**
 * epilot asked us to wait (`Retry-After` on a 429 or 5xx) and the call still failed after the client's own retries.
 * A separate name so its Step Functions Retry can wait at least as long as any `Retry-After` the client honours
 * (RATE_LIMITED_RETRY: no jitter, interval = the cap); a jittered transient retry could come sooner.
 */
export class EpilotRateLimitedError extends Error {
  override readonly name = ErrorNames.epilotRateLimited;
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** epilot refused the call (4xx other than 429): repeating it will fail the same way. */
export class EpilotPermanentError extends Error {
  override readonly name = ErrorNames.epilotPermanent;
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * epilot refused our credentials (401/403): a token being rotated, expired, or a proxy. It says nothing about the
 * run, so states retry it with backoff and never turn it into a step result.
 */
export class EpilotAuthError extends Error {
  override readonly name = ErrorNames.epilotAuth;
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** epilot answered with a body the runner cannot use (missing fields, wrong types, too large). */
export class InvalidEpilotDataError extends Error {
  override readonly name = ErrorNames.invalidEpilotData;
}

/** A state received input it cannot work with: a bug in the definition or a hand-started execution. */
export class InvalidStateInputError extends Error {
  override readonly name = ErrorNames.invalidStateInput;
}

/** Another writer changed the task record between our read and our conditional write: read again and decide again. */
export class RecordConflictError extends Error {
  override readonly name = ErrorNames.recordConflict;
}

/** Another execution has taken this task over (our lease expired): stop without touching epilot. */
export class OwnershipLostError extends Error {
  override readonly name = ErrorNames.ownershipLost;
}

/**
 * A start got no definite answer (timeout, reset, 5xx, an empty or unusable 2xx), and no run of it is visible yet:
 * epilot may still create one. Retried by Step Functions until the start-settle window has passed; never a FAILED step.
 */
export class StartOutcomeUnknownError extends Error {
  override readonly name = ErrorNames.startOutcomeUnknown;
}

/** The message of anything thrown, for logs and failure reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
