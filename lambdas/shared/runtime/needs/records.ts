import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { systemClock } from '../../clock';
import { DeliveryRecords } from '../../records/delivery-records';
import { TaskRecords } from '../../records/task-records';
import { defineNeed, NEEDS } from '../function-definition';
import { resourceVariable } from './resource';

/** One DynamoDB client per container, shared by the stores a function uses. */
let dynamoDb: DynamoDBClient | undefined;
const dynamoDbClient = () => (dynamoDb ??= new DynamoDBClient({}));

export const taskRecordsNeed = defineNeed('taskRecords', ({ env }) => ({
  records: new TaskRecords(dynamoDbClient(), resourceVariable(env, NEEDS.taskRecords.resource), systemClock),
}));

export const openRecordQueryNeed = defineNeed('openRecordQuery', ({ env }) => ({
  records: new TaskRecords(dynamoDbClient(), resourceVariable(env, NEEDS.openRecordQuery.resource), systemClock),
}));

export const deliveryRecordsNeed = defineNeed('deliveryRecords', ({ env }) => ({
  deliveries: new DeliveryRecords(dynamoDbClient(), resourceVariable(env, NEEDS.deliveryRecords.resource)),
}));
