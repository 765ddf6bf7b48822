import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Clock } from '../../lambdas/shared/clock';
import { RATE_LIMITED_RETRY, TRANSIENT_RETRY } from '../../lib/sfn/retries';
import { type Retrier, stepFunctionsDelayMs } from '../emulator/retry-book';

/**
 * The Retry rules a deployed state applies to an epilot call that failed for a passing reason, in the order Step
 * Functions matches them: a rate limit no sooner than the longest Retry-After honoured, then transient failures
 * with jittered backoff. Auth errors are left out: on a laptop a refused token is a wrong token, said at once.
 */
const CLI_RETRIERS: readonly Retrier[] = [RATE_LIMITED_RETRY, TRANSIENT_RETRY].map(toAsl);

/**
 * Calls `call`, retrying it as the deployed stack's Retry rules would (lib/sfn/retries.ts, with the emulator's
 * reading of them): what the CLI sends epilot outside the state machines (the dry run, the first search) must
 * survive what the states survive. `retryIf` narrows it further (the first search reports an unreachable API at once).
 */
export async function withStackRetries<T>(
  clock: Clock,
  call: () => Promise<T>,
  retryIf: (error: unknown) => boolean = () => true,
): Promise<T> {
  const attempts = new Map<Retrier, number>();
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const name = error instanceof Error ? error.name : undefined;
      const retrier = CLI_RETRIERS.find((candidate) => name !== undefined && candidate.ErrorEquals.includes(name));
      const attempt = retrier ? (attempts.get(retrier) ?? 0) + 1 : 0;
      if (!retrier || attempt > (retrier.MaxAttempts ?? 3) || !retryIf(error)) throw error;
      attempts.set(retrier, attempt);
      await clock.sleep(stepFunctionsDelayMs(retrier, attempt));
    }
  }
}

function toAsl(props: sfn.RetryProps): Retrier {
  return {
    ErrorEquals: props.errors ?? [],
    IntervalSeconds: props.interval?.toSeconds(),
    MaxAttempts: props.maxAttempts,
    BackoffRate: props.backoffRate,
    MaxDelaySeconds: props.maxDelay?.toSeconds(),
    JitterStrategy: props.jitterStrategy === undefined ? undefined : props.jitterStrategy === sfn.JitterType.FULL ? 'FULL' : 'NONE',
  };
}
