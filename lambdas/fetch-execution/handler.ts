import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { workflows } from '../shared/runtime/clients';
import { logger } from '../shared/runtime/env';
import { createFetchExecutionHandler } from './fetch-execution';

export const handler = middy(createFetchExecutionHandler({ logger, workflows: workflows() })).use(
  injectLambdaContext(logger),
);
