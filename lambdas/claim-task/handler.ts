import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { clock, logger, settings } from '../shared/runtime/env';
import { records } from '../shared/runtime/stores';
import { createClaimTaskHandler } from './claim-task';

export const handler = middy(createClaimTaskHandler({ logger, clock, settings, records: records() })).use(
  injectLambdaContext(logger),
);
