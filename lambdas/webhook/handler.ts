import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/runtime/step-functions-starter';
import { entities, secretsManagerWebhookSecret } from '../shared/runtime/clients';
import { clock, config, logger } from '../shared/runtime/env';
import { deliveries, records } from '../shared/runtime/stores';
import { EnvNames, required } from '../shared/config/settings';
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
