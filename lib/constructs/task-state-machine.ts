import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/shared/errors';
import type { RunnerSettings } from '../../lambdas/shared/config/settings';
import { invokeRunnerFunction, RunnerFunction } from './runner-function';
import { createRunnerStateMachine } from '../sfn/runner-state-machine';
import { TaskStates } from '../../lambdas/state-names';
import type { TaskTable } from './task-table';

export interface TaskStateMachineProps {
  settings: RunnerSettings;
  environment: Record<string, string>;
  table: TaskTable;
  /** Grants an epilot-calling function read access to the API token. */
  grantEpilotAccess: (grantee: iam.IGrantable) => void;
}

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
 * What a trigger (sweep or webhook) needs to start task executions: start them, and, when a name is taken, tell a
 * running execution from one that ended.
 */
export function grantStartingTaskExecutions(stateMachine: sfn.StateMachine, grantee: lambda.Function): void {
  stateMachine.grantStartExecution(grantee);
  stateMachine.grantExecution(grantee, 'states:DescribeExecution');
  // Execution names are made at run time, so the grant covers the state machine's executions: `execution:<name>:*`,
  // spelled as cdk-nag sees the ARN CDK builds.
  const stack = Stack.of(stateMachine);
  const { resourceName } = stack.splitArn(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME);
  const name = JSON.stringify(stack.resolve(resourceName));
  // cdk-nag names pseudo parameters `<AWS::Region>`, but a stack deployed to a given env has literal values.
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  Validations.of(grantee).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:${name}:*]`,
    reason:
      "DescribeExecution on the task state machine's own executions (names are made per task at run time): to tell a " +
      'running execution from an ended one when a name is taken.',
  });
}

/**
 * Carries one workflow task from "detected" to "step patched" (README has the diagram). Every Task state is a
 * small Lambda that receives `{state, execution}` and returns the next state.
 */
export class TaskStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: RunnerFunction[] = [];

  constructor(scope: Construct, id: string, props: TaskStateMachineProps) {
    super(scope, id);
    const { settings, table } = props;
    const fn = (
      name: string,
      handlerDirectory: string,
      description: string,
      access: { records?: boolean; epilot?: boolean },
      options: { memorySize?: number; timeout?: Duration } = {},
    ) => {
      const created = new RunnerFunction(this, name, {
        handlerDirectory,
        description,
        environment: props.environment,
        ...options,
      });
      if (access.records) table.grantRecordAccess(created);
      if (access.epilot) props.grantEpilotAccess(created);
      this.functions.push(created);
      return created;
    };
    const invoke = (stateName: string, target: lambda.IFunction) => invokeRunnerFunction(this, stateName, target);

    const fetchExecution = invoke(
      TaskStates.fetchExecution,
      fn('FetchExecution', 'fetch-execution', 'Reads the workflow execution and picks out the task', { epilot: true }),
    ).addRetry(TRANSIENT_RETRY);
    const findTask = invoke(
      TaskStates.findTask,
      fn('FindTask', 'find-task', 'Decides whether the task needs its automation run', {}),
    );
    const claimTask = invoke(
      TaskStates.claimTask,
      fn('ClaimTask', 'claim-task', "Takes the task's record, or adopts a run already started", { records: true }),
    ).addRetry(RECORD_CONFLICT_RETRY);
    const startAutomation = invoke(
      TaskStates.startAutomation,
      fn('StartAutomation', 'start-automation', 'Starts the automation run, or finds the one already started', {
        records: true,
        epilot: true,
      }),
    )
      .addRetry(TRANSIENT_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY);
    // One invocation polls for up to the poll window; its timeout leaves room for the last, slow HTTP call.
    const getAutomationStatus = invoke(
      TaskStates.getAutomationStatus,
      fn(
        'GetAutomationStatus',
        'get-automation-status',
        'Polls the automation run every interval for up to the poll window',
        { epilot: true },
        {
          memorySize: 128,
          timeout: Duration.seconds(
            Math.ceil((settings.pollWindowMs + settings.pollIntervalMs + 3 * settings.httpTimeoutMs) / 1000) + 10,
          ),
        },
      ),
    ).addRetry(TRANSIENT_RETRY);
    const cancelAutomation = invoke(
      TaskStates.cancelAutomation,
      fn('CancelAutomation', 'cancel-automation', 'Records the FAILED result, then cancels the run', {
        records: true,
        epilot: true,
      }),
    )
      .addRetry(TRANSIENT_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY);
    const mapStatus = invoke(
      TaskStates.mapStatus,
      fn('MapStatus', 'map-status', 'Maps the automation result to the step status', {}),
    );
    const patchStep = invoke(
      TaskStates.patchStep,
      fn('PatchStep', 'patch-step', 'Patches the workflow step and closes the task record', {
        records: true,
        epilot: true,
      }),
    )
      .addRetry(TRANSIENT_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY);

    const nothingToDo = new sfn.Succeed(this, TaskStates.nothingToDo, { stateName: TaskStates.nothingToDo });
    const handedOver = new sfn.Succeed(this, TaskStates.handedOver, { stateName: TaskStates.handedOver });
    const stepNotPatched = new sfn.Fail(this, TaskStates.stepNotPatched, {
      stateName: TaskStates.stepNotPatched,
      comment: 'The record keeps the result; the next execution for this task patches it.',
      causePath: '$.error.Cause',
      errorPath: '$.error.Error',
    });
    const waitForAutomation = new sfn.Wait(this, TaskStates.waitForAutomation, {
      stateName: TaskStates.waitForAutomation,
      time: sfn.WaitTime.duration(Duration.seconds(Math.max(1, Math.round(settings.pollIntervalMs / 1000)))),
    });

    const ownershipLost = { errors: [ErrorNames.ownershipLost], resultPath: '$.error' };
    // After a start, nothing may end the execution without a patch: unrecoverable errors become a FAILED result.
    const failTheStep = { errors: [sfn.Errors.ALL], resultPath: '$.error' };
    startAutomation.addCatch(handedOver, ownershipLost);
    startAutomation.addCatch(mapStatus, {
      errors: [ErrorNames.epilotPermanent, ErrorNames.invalidEpilotData, ErrorNames.invalidStateInput],
      resultPath: '$.error',
    });
    // A run the runner can no longer follow is cancelled before its step is failed, so it cannot finish unseen.
    getAutomationStatus.addCatch(cancelAutomation, failTheStep);
    // A run that cannot be cancelled still gets its step failed for the timeout.
    cancelAutomation.addCatch(handedOver, ownershipLost);
    cancelAutomation.addCatch(mapStatus, { errors: [sfn.Errors.ALL], resultPath: '$.cancelError' });
    patchStep.addCatch(handedOver, ownershipLost);
    patchStep.addCatch(stepNotPatched, failTheStep);

    const pollLoop = getAutomationStatus.next(
      new sfn.Choice(this, TaskStates.automationFinished, { stateName: TaskStates.automationFinished })
        .when(sfn.Condition.booleanEquals('$.run.finished', true), mapStatus)
        .when(sfn.Condition.booleanEquals('$.run.timedOut', true), cancelAutomation)
        .otherwise(waitForAutomation.next(getAutomationStatus)),
    );
    cancelAutomation.next(mapStatus);
    mapStatus.next(patchStep);

    const definition = fetchExecution
      .next(findTask)
      .next(claimTask)
      .next(
        new sfn.Choice(this, TaskStates.runAutomation, { stateName: TaskStates.runAutomation })
          .when(sfn.Condition.stringEquals('$.decision.action', 'skip'), nothingToDo)
          .when(sfn.Condition.stringEquals('$.decision.action', 'patch'), patchStep)
          .otherwise(startAutomation.next(pollLoop)),
      );

    this.stateMachine = createRunnerStateMachine(this, {
      comment: 'epilot workflow task automation: detect → start → poll → patch',
      definition,
    });
  }
}
