import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { clock, logger, records, settings, workflows } from '../shared/aws/lambda-runtime';
import { createPatchStepHandler } from './patch-step';

export const handler = middy(
  createPatchStepHandler({ logger, clock, settings, records: records(), workflows: workflows() }),
).use(injectLambdaContext(logger));
