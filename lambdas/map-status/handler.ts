import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { mapStatus } from './state';

export const handler = lambdaHandler(mapStatus);
