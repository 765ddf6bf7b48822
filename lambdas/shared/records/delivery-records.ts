import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionalCheckFailure } from './task-records';

/** How long a webhook delivery id is remembered: epilot retries a delivery for hours, never for a day. */
const DELIVERY_TTL_SECONDS = 24 * 60 * 60;

/**
 * How long a delivery being processed keeps epilot's retries of it waiting. Longer than the receiver's 29 s Lambda
 * timeout, so a live lease means the first receiver may still be at work; short enough that a retry after a
 * receiver that died (timeout, crash: no `catch` runs) finds the lease run out and does the work itself.
 */
export const DELIVERY_PROCESSING_LEASE_SECONDS = 60;

export function deliveryRecordKey(deliveryId: string): { pk: string; sk: string } {
  return { pk: `DELIVERY#${deliveryId}`, sk: 'delivery' };
}

export type DeliveryClaim = { claimed: true; token: string } | { claimed: false; state: 'in-progress' | 'done' };

/** A stored delivery record as read back; only what tells "in progress" from "done" matters. */
const deliveryItemSchema = z.looseObject({ status: z.enum(['processing', 'done']).optional(), expiresAt: z.number() });

/**
 * Remembers which webhook deliveries (by `webhook-id`) were processed, so a retried or replayed one starts nothing,
 * without losing one whose receiver died half-way: a delivery counts as seen only once its executions started.
 */
export interface DeliveryStore {
  /**
   * Takes the delivery on with a short processing lease unless a live record of it exists (a receiver at work, or
   * a delivery done); one caller wins however many try at once.
   */
  claim(deliveryId: string, nowMs: number): Promise<DeliveryClaim>;
  /** Marks a claimed delivery done (its task executions started), remembered for a day. */
  complete(deliveryId: string, token: string, nowMs: number): Promise<void>;
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
          Item: {
            ...deliveryRecordKey(deliveryId),
            token,
            status: 'processing',
            receivedAt: nowMs,
            expiresAt: now + DELIVERY_PROCESSING_LEASE_SECONDS,
          },
          // Expiry is checked in the condition: a read-then-write would let two receivers both take a lapsed lease.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return { claimed: true, token };
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
    }
    return { claimed: false, state: await this.stateOf(deliveryId) };
  }

  async complete(deliveryId: string, token: string, nowMs: number): Promise<void> {
    const now = Math.floor(nowMs / 1000);
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...deliveryRecordKey(deliveryId), token, status: 'done', finishedAt: nowMs, expiresAt: now + DELIVERY_TTL_SECONDS },
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    } catch (error) {
      // Our lease ran out and a retry took the delivery over: its receiver marks it done (starts are idempotent).
      if (!isConditionalCheckFailure(error)) throw error;
    }
  }

  /** Why a claim lost: a record written by an older version (no status) counts as done, as it did then. */
  private async stateOf(deliveryId: string): Promise<'in-progress' | 'done'> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: deliveryRecordKey(deliveryId), ConsistentRead: true }),
    );
    const parsed = deliveryItemSchema.safeParse(Item);
    // Gone or unreadable between the write and the read (a release): in progress, so epilot retries it.
    if (!parsed.success) return 'in-progress';
    return parsed.data.status === 'processing' ? 'in-progress' : 'done';
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
