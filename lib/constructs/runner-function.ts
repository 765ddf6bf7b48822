import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { type Settings, settingsEnvironment, settingsIn } from '../../lambdas/shared/config/settings';
import { SERVICE_NAME } from '../../lambdas/shared/logger';
import {
  type FunctionDefinition,
  type Need,
  type NeedHandle,
  NEEDS,
  needNames,
  settingGroupsOf,
  timeoutSecondsOf,
} from '../../lambdas/shared/runtime/function-definition';
import { grantStartingTaskExecutions } from './grants';
import type { TaskTable } from './task-table';

const PROJECT_ROOT = path.join(__dirname, '..', '..');

/** What the stack has for functions to bind to; `taskStateMachine` exists only once the task functions do. */
export interface NeedBindings {
  settings: Settings;
  table: TaskTable;
  tokenSecret: secretsmanager.ISecret;
  webhookSecret: secretsmanager.ISecret;
  taskStateMachine?: sfn.StateMachine;
}

/** The parts of a registry entry the infrastructure reads. */
export type FunctionShape = Pick<FunctionDefinition, 'id' | 'folder' | 'description' | 'stateName' | 'sizing'> & {
  needs: ReadonlyArray<NeedHandle<Need>>;
};

/**
 * Each need, bound as Powertools' `bindTable` binds a table: the environment variable and the IAM grant together,
 * so a function can never get one without the other.
 */
const BINDERS: Record<Need, (fn: RunnerFunction, bindings: NeedBindings) => void> = {
  epilot: (fn, { tokenSecret }) => {
    tokenSecret.grantRead(fn);
  },
  // Settings reach a function as environment variables only (its setting groups); there is nothing to grant.
  settings: () => undefined,
  taskRecords: (fn, { table }) => {
    fn.addEnvironment(NEEDS.taskRecords.resource, table.table.tableName);
    table.grantRecordAccess(fn);
  },
  openRecordQuery: (fn, { table }) => {
    fn.addEnvironment(NEEDS.openRecordQuery.resource, table.table.tableName);
    table.grantRecordAccess(fn);
    table.grantAbandonedRecordQuery(fn);
  },
  deliveryRecords: (fn, { table }) => {
    fn.addEnvironment(NEEDS.deliveryRecords.resource, table.table.tableName);
    table.grantRecordAccess(fn);
  },
  taskExecutions: (fn, { taskStateMachine }) => {
    if (!taskStateMachine) throw new Error(`${fn.node.path} needs taskExecutions before the task state machine exists`);
    fn.addEnvironment(NEEDS.taskExecutions.resource, taskStateMachine.stateMachineArn);
    grantStartingTaskExecutions(taskStateMachine, fn);
  },
  webhookSecret: (fn, { webhookSecret }) => {
    webhookSecret.grantRead(fn);
  },
};

/**
 * One Lambda of the registry (`lambdas/states.ts`), with the defaults every function shares (one place to change
 * runtime, bundling or logging), and exactly the environment and grants its needs imply.
 */
export class RunnerFunction extends NodejsFunction {
  constructor(scope: Construct, definition: FunctionShape, bindings: NeedBindings) {
    const id = definition.id;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const sizing = definition.sizing?.(bindings.settings) ?? {};
    super(scope, id, {
      entry: path.join(PROJECT_ROOT, 'lambdas', definition.folder, 'handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: definition.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: sizing.memoryMb ?? 256,
      timeout: Duration.seconds(timeoutSecondsOf(definition, bindings.settings)),
      ...(sizing.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: sizing.reservedConcurrency }),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        ...settingsEnvironment(bindings.settings, settingsIn(settingGroupsOf(needNames(definition)))),
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
    for (const need of new Set(needNames(definition))) BINDERS[need](this, bindings);
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

/** The Task state a registry function backs, invoking it. */
export function invokeRegisteredFunction(scope: Construct, target: RunnerFunction, definition: FunctionShape): tasks.LambdaInvoke {
  if (definition.stateName === undefined) throw new Error(`${definition.id} backs no Task state`);
  return invokeRunnerFunction(scope, definition.stateName, target);
}
