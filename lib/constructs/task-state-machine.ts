import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ErrorNames } from '../../lambdas/shared/errors';
import { TaskStates } from '../../lambdas/state-names';
import { TASK_FUNCTIONS } from '../../lambdas/states';
import {
  AUTH_RETRY,
  LAMBDA_RETRY,
  POLL_BAD_DATA_RETRY,
  POLL_RETRY,
  RATE_LIMITED_RETRY,
  RECORD_CONFLICT_RETRY,
  TRANSIENT_RETRY,
} from '../sfn/retries';
import { createRunnerStateMachine } from '../sfn/runner-state-machine';
import { invokeRegisteredFunction, type NeedBindings, RunnerFunction } from './runner-function';

export interface TaskStateMachineProps {
  bindings: NeedBindings;
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
    const { bindings } = props;
    const { settings } = bindings;
    const invoke = (definition: (typeof TASK_FUNCTIONS)[keyof typeof TASK_FUNCTIONS]) => {
      const created = new RunnerFunction(this, definition, bindings);
      this.functions.push(created);
      return invokeRegisteredFunction(this, created, definition);
    };

    const fetchExecution = invoke(TASK_FUNCTIONS.fetchExecution)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry(TRANSIENT_RETRY)
      .addRetry(AUTH_RETRY)
      .addRetry(LAMBDA_RETRY);
    const findTask = invoke(TASK_FUNCTIONS.findTask).addRetry(LAMBDA_RETRY);
    const claimTask = invoke(TASK_FUNCTIONS.claimTask).addRetry(RECORD_CONFLICT_RETRY).addRetry(LAMBDA_RETRY);
    // A start without a definite answer: come back and look for its run until startSettleMs has passed (the
    // Lambda then starts again). Evenly spaced, no jitter, so the attempts together surely outlast the window.
    const settleIntervalSeconds = Math.min(30, Math.max(1, Math.round(settings.startSettleMs / 10_000)));
    const startOutcomeUnknownRetry: sfn.RetryProps = {
      errors: [ErrorNames.startOutcomeUnknown],
      interval: Duration.seconds(settleIntervalSeconds),
      backoffRate: 1,
      // Twice the window: a start made again after it may go unanswered too.
      maxAttempts: 2 * Math.ceil(settings.startSettleMs / 1000 / settleIntervalSeconds) + 2,
    };
    const startAutomation = invoke(TASK_FUNCTIONS.startAutomation)
      .addRetry(startOutcomeUnknownRetry)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry(TRANSIENT_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY)
      .addRetry(LAMBDA_RETRY);
    const getAutomationStatus = invoke(TASK_FUNCTIONS.getAutomationStatus)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry(POLL_RETRY)
      .addRetry(POLL_BAD_DATA_RETRY);
    const cancelAutomation = invoke(TASK_FUNCTIONS.cancelAutomation)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry(TRANSIENT_RETRY)
      .addRetry(AUTH_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY)
      .addRetry(LAMBDA_RETRY);
    const patchStep = invoke(TASK_FUNCTIONS.patchStep)
      .addRetry(RATE_LIMITED_RETRY)
      .addRetry(TRANSIENT_RETRY)
      .addRetry(AUTH_RETRY)
      .addRetry(RECORD_CONFLICT_RETRY)
      .addRetry(LAMBDA_RETRY);

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
    // StartOutcomeUnknownError is not caught here: the run may exist, so it must never become a FAILED step.
    // EpilotAuthError is: a start refused with 401/403 ran nothing, and the HTTP client has already tried it again
    // with a freshly read token. It is not retried here: the noted attempt would make the retry wait out
    // startSettleMs for a run that cannot exist, and a token that stays refused fails every other task too.
    startAutomation.addCatch(patchStep, {
      errors: [ErrorNames.epilotPermanent, ErrorNames.epilotAuth, ErrorNames.invalidEpilotData, ErrorNames.invalidStateInput],
      resultPath: '$.error',
    });
    // Only errors about the run itself (epilot no longer knows it, or its data stays unusable after retries) cancel
    // it and fail the step; trouble with polling is retried (POLL_RETRY) and never fails a healthy run.
    getAutomationStatus.addCatch(cancelAutomation, {
      errors: [ErrorNames.epilotPermanent, ErrorNames.invalidEpilotData],
      resultPath: '$.error',
    });
    // A run that cannot be cancelled still gets its step failed for the timeout.
    cancelAutomation.addCatch(handedOver, ownershipLost);
    cancelAutomation.addCatch(patchStep, { errors: [sfn.Errors.ALL], resultPath: '$.cancelError' });
    patchStep.addCatch(handedOver, ownershipLost);
    patchStep.addCatch(stepNotPatched, failTheStep);

    const pollLoop = getAutomationStatus.next(
      new sfn.Choice(this, TaskStates.automationFinished, { stateName: TaskStates.automationFinished })
        .when(sfn.Condition.booleanEquals('$.run.finished', true), patchStep)
        .when(sfn.Condition.booleanEquals('$.run.timedOut', true), cancelAutomation)
        // Someone else finalized the step while the run goes on: the run is cancelled, and their decision stands.
        .when(sfn.Condition.isPresent('$.stepFinalizedElsewhere'), cancelAutomation)
        .otherwise(waitForAutomation.next(getAutomationStatus)),
    );
    cancelAutomation.next(patchStep);

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
