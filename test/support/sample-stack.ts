import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * A small stand-in for the real stack, for the tests of the local modules: one NodejsFunction behind every Task
 * state, both LambdaInvoke forms, a Retry by error name with MaxDelaySeconds and FULL jitter, a Catch into
 * `$.error`, a Choice + Wait polling loop, a Parallel and a Map with Task states inside, and two tables.
 *
 *   Start → Fanout(Parallel: Audit | Pass) → Items(Map: Item) → Flaky ─(Catch EpilotPermanentError)─┐
 *                                                                  └──────────────→ Poll ←───────────┘
 *   Poll → Done? ─yes→ Done
 *            └─no→ Pause (SecondsPath $.start.delaySeconds) → Poll
 */
export class SampleStack extends cdk.Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly worker: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.worker = new nodejs.NodejsFunction(this, 'Worker', {
      entry: path.join(__dirname, 'sample-handler.ts'),
      runtime: lambda.Runtime.NODEJS_22_X,
      depsLockFilePath: path.join(__dirname, '..', '..', 'package-lock.json'),
    });

    const records = new dynamodb.Table(this, 'Records', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
    });
    records.addGlobalSecondaryIndex({
      indexName: 'byStatus',
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.NUMBER },
    });
    records.addLocalSecondaryIndex({
      indexName: 'byOwner',
      sortKey: { name: 'owner', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    new dynamodb.Table(this, 'Settings', {
      tableName: 'sample-settings',
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PROVISIONED,
      readCapacity: 2,
      writeCapacity: 1,
    });

    const invoke = (id: string, props: Partial<tasks.LambdaInvokeProps> = {}) =>
      new tasks.LambdaInvoke(this, id, { lambdaFunction: this.worker, payloadResponseOnly: true, ...props });

    const start = invoke('Start', {
      payload: sfn.TaskInput.fromObject({
        'input.$': '$',
        'execution.$': '$$.Execution.Id',
        'stateName.$': '$$.State.Name',
        'machine.$': '$$.StateMachine.Name',
      }),
      resultPath: '$.start',
    });
    const fanout = new sfn.Parallel(this, 'Fanout', { resultPath: sfn.JsonPath.DISCARD })
      .branch(invoke('Audit', { payload: sfn.TaskInput.fromObject({ 'id.$': '$.id' }) }))
      .branch(new sfn.Pass(this, 'Skip'));
    const items = new sfn.Map(this, 'Items', {
      itemsPath: '$.items',
      itemSelector: { 'item.$': '$$.Map.Item.Value' },
      resultPath: '$.itemResults',
    }).itemProcessor(invoke('Item'));
    const flaky = new tasks.LambdaInvoke(this, 'Flaky', {
      lambdaFunction: this.worker,
      payload: sfn.TaskInput.fromObject({ 'id.$': '$.id', 'retryCount.$': '$$.State.RetryCount' }),
      resultSelector: { 'value.$': '$.Payload', 'status.$': '$.StatusCode' },
      resultPath: '$.flaky',
    }).addRetry({
      errors: ['EpilotTransientError'],
      interval: cdk.Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 3,
      maxDelay: cdk.Duration.seconds(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    const poll = invoke('Poll', { payload: sfn.TaskInput.fromObject({ 'id.$': '$.id' }), resultPath: '$.poll' });
    const pause = new sfn.Wait(this, 'Pause', { time: sfn.WaitTime.secondsPath('$.start.delaySeconds') });
    const done = new sfn.Succeed(this, 'Done');
    flaky.addCatch(poll, { errors: ['EpilotPermanentError'], resultPath: '$.error' });

    const definition = start
      .next(fanout)
      .next(items)
      .next(flaky)
      .next(poll)
      .next(new sfn.Choice(this, 'Finished?').when(sfn.Condition.booleanEquals('$.poll.done', true), done).otherwise(pause.next(poll)));
    this.stateMachine = new sfn.StateMachine(this, 'Sample', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      comment: 'Fixture for the local runner tests',
    });
  }
}
