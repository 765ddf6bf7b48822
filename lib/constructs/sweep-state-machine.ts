import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { invokeRunnerFunction, RunnerFunction } from './runner-function';
import { createRunnerStateMachine } from '../sfn/runner-state-machine';
import { SweepStates } from '../../lambdas/state-names';
import { grantStartingTaskExecutions, TRANSIENT_RETRY } from './task-state-machine';
import type { TaskTable } from './task-table';

export interface SweepStateMachineProps {
  environment: Record<string, string>;
  table: TaskTable;
  taskStateMachine: sfn.StateMachine;
  grantEpilotAccess: (grantee: iam.IGrantable) => void;
  /** Minutes between sweeps; 0 leaves the state machine without a schedule. */
  rateMinutes: number;
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
    this.detectFunction = new RunnerFunction(this, 'DetectTasks', {
      handlerDirectory: 'detect-tasks',
      description: 'Searches one page of entities and starts a task execution per automation task found',
      environment: props.environment,
      timeout: Duration.minutes(5),
    });
    props.table.grantRecordAccess(this.detectFunction);
    props.table.grantAbandonedRecordQuery(this.detectFunction);
    props.grantEpilotAccess(this.detectFunction);
    grantStartingTaskExecutions(props.taskStateMachine, this.detectFunction);

    const detectTasks = invokeRunnerFunction(this, SweepStates.detectTasks, this.detectFunction).addRetry({
      ...TRANSIENT_RETRY,
      maxAttempts: 3,
    });
    const definition = detectTasks.next(
      new sfn.Choice(this, SweepStates.morePages, { stateName: SweepStates.morePages })
        .when(sfn.Condition.booleanEquals('$.done', true), new sfn.Succeed(this, SweepStates.sweepFinished, { stateName: SweepStates.sweepFinished }))
        .otherwise(detectTasks),
    );

    this.stateMachine = createRunnerStateMachine(this, {
      comment: 'epilot-task-runner sweep: find workflow tasks waiting for their automation',
      definition,
      timeout: Duration.hours(1),
    });

    if (props.rateMinutes > 0) {
      this.schedule = new events.Rule(this, 'Schedule', {
        description: 'Starts a sweep for epilot workflow automation tasks',
        schedule: events.Schedule.rate(Duration.minutes(props.rateMinutes)),
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
      });
    }
  }
}
