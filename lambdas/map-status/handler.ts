import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger, settings } from '../shared/runtime/env';
import { createMapStatusHandler } from './map-status';

export const handler = middy(createMapStatusHandler({ logger, settings })).use(injectLambdaContext(logger));
