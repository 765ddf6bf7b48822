import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SweepStates } from '../../lambdas/state-names';
import { SWEEP_FUNCTIONS } from '../../lambdas/states';
import { AUTH_RETRY, LAMBDA_RETRY, RATE_LIMITED_RETRY, TRANSIENT_RETRY } from '../sfn/retries';
import { createRunnerStateMachine } from '../sfn/runner-state-machine';
import { invokeRegisteredFunction, type NeedBindings, RunnerFunction } from './runner-function';

export interface SweepStateMachineProps {
  bindings: NeedBindings;
}

/**
 * Pages through entity search, one page per "Detect tasks" invocation, starting a task execution per candidate.
 * The state data is a cursor and counters, so a sweep of any size stays small.
 */
export class SweepStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly detectFunction: RunnerFunction;
  readonly schedule: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: SweepStateMachineProps) {
    super(scope, id);
    const { bindings } = props;
    this.detectFunction = new RunnerFunction(this, SWEEP_FUNCTIONS.detectTasks, bindings);

    const detectTasks = invokeRegisteredFunction(this, this.detectFunction, SWEEP_FUNCTIONS.detectTasks)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry({ ...TRANSIENT_RETRY, maxAttempts: 3 })
      .addRetry({ ...AUTH_RETRY, maxAttempts: 3 })
      .addRetry(LAMBDA_RETRY);
    const definition = detectTasks.next(
      new sfn.Choice(this, SweepStates.morePages, { stateName: SweepStates.morePages })
        .when(
          sfn.Condition.booleanEquals('$.done', true),
          new sfn.Succeed(this, SweepStates.sweepFinished, { stateName: SweepStates.sweepFinished }),
        )
        .otherwise(detectTasks),
    );

    this.stateMachine = createRunnerStateMachine(this, {
      comment: 'epilot-task-runner sweep: find workflow tasks waiting for their automation',
      definition,
      timeout: Duration.hours(1),
    });

    const rateMinutes = bindings.settings.sweepRateMinutes;
    if (rateMinutes > 0) {
      this.schedule = new events.Rule(this, 'Schedule', {
        description: 'Starts a sweep for epilot workflow automation tasks',
        schedule: events.Schedule.rate(Duration.minutes(rateMinutes)),
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
      });
    }
  }
}
