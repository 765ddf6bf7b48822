import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/aws/step-functions-starter';
import {
  clock,
  config,
  deliveries,
  entities,
  logger,
  records,
  secretsManagerWebhookSecret,
} from '../shared/aws/lambda-runtime';
import { EnvNames, required } from '../shared/settings';
import { createWebhookHandler } from './webhook';

export const handler = middy(
  createWebhookHandler({
    secret: secretsManagerWebhookSecret(required(config.webhookSecretName, EnvNames.webhookSecretName)),
    deliveries: deliveries(),
    entities: entities(),
    records: records(),
    starter: stepFunctionsStarter(required(config.taskStateMachineArn, EnvNames.taskStateMachineArn)),
    clock,
    logger,
  }),
).use(injectLambdaContext(logger));
