import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ErrorNames } from '../../lambdas/shared/errors';

/** epilot answered 5xx/429 or the network failed: back off with full jitter, capped, a few times. */
export const TRANSIENT_RETRY: sfn.RetryProps = {
  errors: [ErrorNames.epilotTransient, 'Lambda.TooManyRequestsException'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 5,
  maxDelay: Duration.seconds(60),
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
 * STARTED lease holds and the resume adopts the run.
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
