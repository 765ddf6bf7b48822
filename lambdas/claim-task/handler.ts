import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { claimTask } from './state';

export const handler = lambdaHandler(claimTask);
