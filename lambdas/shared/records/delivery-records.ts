import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailure } from './task-records';

/** How long a webhook delivery id is remembered: epilot retries a delivery for hours, never for a day. */
const DELIVERY_TTL_SECONDS = 24 * 60 * 60;

export function deliveryRecordKey(deliveryId: string): { pk: string; sk: string } {
  return { pk: `DELIVERY#${deliveryId}`, sk: 'delivery' };
}

export type DeliveryClaim = { claimed: true; token: string } | { claimed: false };

/** Remembers which webhook deliveries (by `webhook-id`) were taken on, so a retried or replayed one starts nothing. */
export interface DeliveryStore {
  /** Records the delivery unless a live record of it exists; one caller wins however many try at once. */
  claim(deliveryId: string, nowMs: number): Promise<DeliveryClaim>;
  /** Forgets a claimed delivery (its processing failed), so epilot's retry of it is processed. */
  release(deliveryId: string, token: string): Promise<void>;
}

/**
 * Delivery records in the task table: `pk = DELIVERY#<webhook-id>`, `sk = delivery`, `expiresAt` in epoch seconds.
 * Expiry lives in the condition (the table's TTL is housekeeping only, and the embedded DynamoDB has none), and a
 * release is a conditional PutItem that expires the record, so records need only GetItem/PutItem.
 */
export class DeliveryRecords implements DeliveryStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async claim(deliveryId: string, nowMs: number): Promise<DeliveryClaim> {
    const now = Math.floor(nowMs / 1000);
    const token = randomUUID();
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...deliveryRecordKey(deliveryId), token, receivedAt: nowMs, expiresAt: now + DELIVERY_TTL_SECONDS },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return { claimed: true, token };
    } catch (error) {
      if (isConditionalCheckFailure(error)) return { claimed: false };
      throw error;
    }
  }

  async release(deliveryId: string, token: string): Promise<void> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...deliveryRecordKey(deliveryId), token, expiresAt: 0, released: true },
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    } catch (error) {
      // Someone else holds the delivery now (ours had expired): theirs to finish.
      if (!isConditionalCheckFailure(error)) throw error;
    }
  }
}
