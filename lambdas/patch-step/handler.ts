import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { patchStep } from './state';

export const handler = lambdaHandler(patchStep);
