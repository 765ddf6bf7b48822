import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { automations, clock, logger, records, settings } from '../shared/aws/lambda-runtime';
import { createStartAutomationHandler } from './start-automation';

export const handler = middy(
  createStartAutomationHandler({ logger, clock, settings, records: records(), automations: automations() }),
).use(injectLambdaContext(logger));
