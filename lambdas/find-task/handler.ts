import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../shared/runtime/env';
import { createFindTaskHandler } from './find-task';

export const handler = middy(createFindTaskHandler({ logger })).use(injectLambdaContext(logger));
