import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeliveryRecords } from '../records/delivery-records';
import { EnvNames, required } from '../config/settings';
import { TaskRecords } from '../records/task-records';
import { clock, config } from './env';

/** One DynamoDB client per container, shared by the stores a function uses. */
let dynamoDb: DynamoDBClient | undefined;
const dynamoDbClient = () => (dynamoDb ??= new DynamoDBClient({}));
export const records = () => new TaskRecords(dynamoDbClient(), required(config.taskTableName, EnvNames.taskTableName), clock);
export const deliveries = () => new DeliveryRecords(dynamoDbClient(), required(config.taskTableName, EnvNames.taskTableName));
