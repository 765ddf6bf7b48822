import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import * as z from 'zod';
import { systemClock } from '../clock';
import { endpointsOf, runnerSettings, settingsFromEnvironment, type Settings } from '../config/settings';
import { AutomationApi } from '../epilot/automation-api';
import { EntityApi } from '../epilot/entity-api';
import { EpilotHttp } from '../epilot/http';
import { WorkflowsV1Engine } from '../epilot/workflows-v1';
import { createLogger, type Logger } from '../logger';
import { DeliveryRecords } from '../records/delivery-records';
import { TaskRecords } from '../records/task-records';
import { secretsManagerToken, secretsManagerWebhookSecret } from './secrets';
import { stepFunctionsStarter } from './step-functions-starter';
import { type AllDeps, depsFor, type FunctionDefinition, type FunctionHandler, type Need, NEEDS } from './function-definition';

/**
 * A runner function wrapped the one way every function is, on AWS and on a laptop: Powertools adds the Lambda
 * context to every log line, then the function's own code runs.
 */
export function bindHandler<N extends Need, E, R>(definition: FunctionDefinition<N, E, R>, all: AllDeps): FunctionHandler<E, R> {
  const deps = depsFor(definition.needs, all);
  return middy(definition.create(deps)).use(injectLambdaContext(all.logger));
}

/**
 * The `handler` export of a Lambda: its configuration is read and checked when the module loads (a bad variable
 * fails the cold start, naming the variable), and only the clients its needs name are built.
 */
export function lambdaHandler<N extends Need, E, R>(
  definition: FunctionDefinition<N, E, R>,
  env: Record<string, string | undefined> = process.env,
): FunctionHandler<E, R> {
  return bindHandler(definition, lambdaDeps(definition.needs, settingsFromEnvironment(env), env, createLogger()));
}

const resourceSchemas: Record<string, z.ZodString> = {
  TASK_TABLE_NAME: z.string().min(1),
  TASK_STATE_MACHINE_ARN: z.string().startsWith('arn:'),
};

function resource(env: Record<string, string | undefined>, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') throw new Error(`Missing configuration: ${variable} must be set`);
  const parsed = (resourceSchemas[variable] ?? z.string().min(1)).safeParse(value);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: environment variable ${variable}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** One DynamoDB client per container, shared by the stores a function uses. */
let dynamoDb: DynamoDBClient | undefined;
const dynamoDbClient = () => (dynamoDb ??= new DynamoDBClient({}));

/** What the needs of one function name, built from its environment; the rest stays unbuilt (and unimported work). */
function lambdaDeps(needs: readonly Need[], settings: Settings, env: Record<string, string | undefined>, logger: Logger): AllDeps {
  const built: Partial<AllDeps> = { logger, clock: systemClock };
  for (const need of needs) {
    switch (need) {
      case 'epilot': {
        const http = new EpilotHttp({
          endpoints: endpointsOf(settings),
          token: secretsManagerToken(settings.epilotTokenSecretName),
          timeoutMs: settings.httpTimeoutMs,
          clock: systemClock,
        });
        Object.assign(built, {
          workflows: new WorkflowsV1Engine(http),
          automations: new AutomationApi(http),
          entities: new EntityApi(http),
        });
        break;
      }
      case 'settings':
        built.settings = runnerSettings(settings);
        break;
      case 'taskRecords':
      case 'openRecordQuery':
        built.records = new TaskRecords(dynamoDbClient(), resource(env, NEEDS[need].resource), systemClock);
        break;
      case 'deliveryRecords':
        built.deliveries = new DeliveryRecords(dynamoDbClient(), resource(env, NEEDS.deliveryRecords.resource));
        break;
      case 'taskExecutions':
        built.starter = stepFunctionsStarter(resource(env, NEEDS.taskExecutions.resource));
        break;
      case 'webhookSecret':
        built.secret = secretsManagerWebhookSecret(settings.webhookSecretName);
        break;
    }
  }
  // depsFor() hands a function only what its needs built; nothing else is read from this object.
  return built as AllDeps;
}
