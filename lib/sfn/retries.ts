import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ErrorNames } from '../../lambdas/shared/errors';
import { RETRY_AFTER_CAP_MS } from '../../lambdas/shared/epilot/http';

/** epilot answered 5xx/429 or the network failed: back off with full jitter, capped, a few times. */
export const TRANSIENT_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.epilotTransient],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 5,
  maxDelay: Duration.seconds(60),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * epilot asked for a wait (`Retry-After`) that the Lambda did not wait out. No jitter, and an interval equal to the
 * longest `Retry-After` the HTTP client honours (RETRY_AFTER_CAP_MS), so the first retry, and every later one
 * (BackoffRate ≥ 1), comes at least as late as epilot asked: FULL jitter could draw a delay near 0. This is why
 * the error has a name of its own instead of riding on TRANSIENT_RETRY.
 */
export const RATE_LIMITED_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.epilotRateLimited],
  interval: Duration.millis(RETRY_AFTER_CAP_MS),
  backoffRate: 1.5,
  maxAttempts: 5,
  maxDelay: Duration.seconds(120),
  jitterStrategy: sfn.JitterType.NONE,
};

/**
 * epilot refused our token (401/403) even after the HTTP client read it again: most likely a rotation that has not
 * reached every reader yet, or a proxy. It says nothing about the task, so it is waited out with long, capped,
 * jittered backoff and never becomes a step result; the errors are logged (and alarmed on) by the Lambda.
 * Not on Start automation: a refused start is a definite 4xx and fails the step (see its Catch).
 */
export const AUTH_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.epilotAuth],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 5,
  maxDelay: Duration.seconds(60),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * The Lambda itself failed (throttled, or killed at its timeout: Sandbox.Timedout, older runtimes Lambda.Unknown)
 * in a state other than the poller (POLL_RETRY has its own). Every state reads the record and decides again, so
 * running it again is safe; the start's noted attempt makes its retry look for the run first. CDK's own retrier
 * covers Lambda.ServiceException and friends.
 */
export const LAMBDA_RETRY: sfn.RetryProps = {
  errors: ['Sandbox.Timedout', 'Lambda.Unknown', 'Lambda.TooManyRequestsException'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 3,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

/** Another writer changed the task record under us: read and decide again, promptly. */
export const RECORD_CONFLICT_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.recordConflict],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 3,
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * Get automation status: failures that say nothing about the run (epilot unavailable, our token refused while it is
 * rotated, the poller's own Lambda timing out or being throttled) are waited out with long, capped, jittered
 * backoff. They never reach the cancel Catch; once retries run out the execution fails without a result, the
 * STARTED lease holds and the resume adopts the run. A Lambda timeout reaches Step Functions as Sandbox.Timedout
 * (older runtimes: Lambda.Unknown), States.Timeout only if the Task state had a TimeoutSeconds.
 */
export const POLL_RETRY: sfn.RetryProps = {
  errors: [
    ErrorNames.epilotTransient,
    ErrorNames.epilotAuth,
    sfn.Errors.TIMEOUT,
    'Sandbox.Timedout',
    'Lambda.Unknown',
    'Lambda.TooManyRequestsException',
    'Lambda.ServiceException',
    'Lambda.SdkClientException',
  ],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 10,
  maxDelay: Duration.seconds(120),
  jitterStrategy: sfn.JitterType.FULL,
};

/** Unusable status data may be one bad answer: poll a few more times before taking it as the run's state. */
export const POLL_BAD_DATA_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.invalidEpilotData],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 3,
  jitterStrategy: sfn.JitterType.FULL,
};
