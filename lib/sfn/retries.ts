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
