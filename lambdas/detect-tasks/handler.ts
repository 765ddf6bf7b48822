import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/aws/step-functions-starter';
import { clock, config, entities, logger, records, settings } from '../shared/aws/lambda-runtime';
import { EnvNames, required } from '../shared/settings';
import { createDetectTasksHandler } from './detect-tasks';

export const handler = middy(
  createDetectTasksHandler({
    logger,
    clock,
    settings,
    entities: entities(),
    records: records(),
    starter: stepFunctionsStarter(required(config.taskStateMachineArn, EnvNames.taskStateMachineArn)),
  }),
).use(injectLambdaContext(logger));
