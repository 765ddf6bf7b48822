import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/aws/step-functions-starter';
import { entities, secretsManagerWebhookSecret } from '../shared/aws/epilot-clients';
import { clock, config, logger } from '../shared/aws/lambda-runtime';
import { deliveries, records } from '../shared/aws/stores';
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
