import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

const PROJECT_ROOT = path.join(__dirname, '..', '..');

export interface RunnerFunctionProps {
  /** The folder under `lambdas/` whose `handler.ts` this function runs. */
  handlerDirectory: string;
  description: string;
  environment: Record<string, string>;
  memorySize?: number;
  timeout?: Duration;
  reservedConcurrentExecutions?: number;
}

/** Every Lambda of the runner, with the defaults they all share: one place to change runtime, bundling or logging. */
export class RunnerFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: RunnerFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.join(PROJECT_ROOT, 'lambdas', props.handlerDirectory, 'handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'epilot-task-runner',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        format: OutputFormat.CJS,
        // The Node.js 22 runtime ships AWS SDK v3; leaving it out keeps bundles small and cold starts short.
        externalModules: ['@aws-sdk/*'],
      },
    });
  }
}

/**
 * A Task state that invokes a runner Lambda the way every state does: it receives `{state, execution}` and its
 * result replaces the state data. Lambda service errors are retried by CDK's default retrier.
 */
export function invokeRunnerFunction(scope: Construct, stateName: string, target: lambda.IFunction): tasks.LambdaInvoke {
  return new tasks.LambdaInvoke(scope, stateName, {
    stateName,
    lambdaFunction: target,
    payload: sfn.TaskInput.fromObject({ 'state.$': '$', 'execution.$': '$$.Execution.Id' }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
  });
}
