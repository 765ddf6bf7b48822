import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { fetchExecution } from './state';

export const handler = lambdaHandler(fetchExecution);
