import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { workflows } from '../shared/aws/epilot-clients';
import { clock, logger, settings } from '../shared/aws/lambda-runtime';
import { records } from '../shared/aws/stores';
import { createPatchStepHandler } from './patch-step';

export const handler = middy(
  createPatchStepHandler({ logger, clock, settings, records: records(), workflows: workflows() }),
).use(injectLambdaContext(logger));
