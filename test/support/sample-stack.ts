import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { invokeRunnerFunction } from '../../lib/constructs/runner-function';

/**
 * A small stand-in for the real stack, built from what it uses and nothing else, for the tests of local/emulator:
 * one NodejsFunction behind every Task state (invoked as the runner invokes its Lambdas), a Retry by error name
 * with MaxDelaySeconds and FULL jitter, a Catch into `$.error` feeding a Fail state's ErrorPath/CausePath, a
 * Choice + Wait polling loop, an execution timeout, and one on-demand table with a global index.
 *
 *   Start → Flaky ─(Catch EpilotPermanentError)→ Failed
 *             └→ Poll → Done? ─yes→ Done
 *                  ↑       └─no→ Pause (Seconds 3600)
 *                  └───────────────────┘
 */
export class SampleStack extends cdk.Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly worker: nodejs.NodejsFunction;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.worker = sampleWorker(this);
    this.table = new dynamodb.Table(this, 'Records', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byStatus',
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.NUMBER },
    });

    const invoke = (stateName: string) => invokeRunnerFunction(this, stateName, this.worker);
    const flaky = invoke('Flaky').addRetry({
      errors: ['EpilotTransientError'],
      interval: cdk.Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 3,
      maxDelay: cdk.Duration.seconds(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    const failed = new sfn.Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    flaky.addCatch(failed, { errors: ['EpilotPermanentError'], resultPath: '$.error' });
    const poll = invoke('Poll');
    const pause = new sfn.Wait(this, 'Pause', { time: sfn.WaitTime.duration(cdk.Duration.hours(1)) });

    const definition = invoke('Start')
      .next(flaky)
      .next(poll)
      .next(
        new sfn.Choice(this, 'Done?')
          .when(sfn.Condition.booleanEquals('$.done', true), new sfn.Succeed(this, 'Done'))
          .otherwise(pause.next(poll)),
      );
    this.stateMachine = new sfn.StateMachine(this, 'Sample', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      timeout: cdk.Duration.hours(2),
      comment: 'Fixture for the local emulator tests',
    });
  }
}

/** A state machine with a Parallel state, which the emulator must refuse rather than run. */
export class ParallelSampleStack extends cdk.Stack {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const worker = sampleWorker(this);
    const fanout = new sfn.Parallel(this, 'Fanout')
      .branch(invokeRunnerFunction(this, 'Left', worker))
      .branch(invokeRunnerFunction(this, 'Right', worker));
    this.stateMachine = new sfn.StateMachine(this, 'Sample', { definitionBody: sfn.DefinitionBody.fromChainable(fanout) });
  }
}

function sampleWorker(scope: Construct): nodejs.NodejsFunction {
  return new nodejs.NodejsFunction(scope, 'Worker', {
    entry: path.join(__dirname, 'sample-handler.ts'),
    runtime: lambda.Runtime.NODEJS_22_X,
    depsLockFilePath: path.join(__dirname, '..', '..', 'package-lock.json'),
  });
}
