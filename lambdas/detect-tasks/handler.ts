import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/aws/step-functions-starter';
import { entities } from '../shared/aws/epilot-clients';
import { clock, config, logger, settings } from '../shared/aws/lambda-runtime';
import { records } from '../shared/aws/stores';
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
