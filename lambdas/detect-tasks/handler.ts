import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { stepFunctionsStarter } from '../shared/runtime/step-functions-starter';
import { entities } from '../shared/runtime/clients';
import { clock, config, logger, settings } from '../shared/runtime/env';
import { records } from '../shared/runtime/stores';
import { EnvNames, required } from '../shared/config/settings';
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
