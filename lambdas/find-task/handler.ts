import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { findTask } from './state';

export const handler = lambdaHandler(findTask);
