import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { deliveryRecordsNeed, taskRecordsNeed } from '../shared/runtime/needs/records';
import { taskExecutionsNeed } from '../shared/runtime/needs/task-executions';
import { webhookSecretNeed } from '../shared/runtime/needs/webhook-secret';
import { createWebhookHandler } from './webhook';

export const webhookReceiver = defineFunction({
  // Inside the stack's `Webhook` construct: `Webhook/Function` keeps the logical ids deployed stacks already have.
  id: 'Function',
  folder: 'webhook',
  stateName: undefined,
  description: 'Receives signed epilot webhooks and starts a task execution per automation task of the entity',
  needs: [webhookSecretNeed, deliveryRecordsNeed, epilotNeed, taskRecordsNeed, taskExecutionsNeed],
  create: createWebhookHandler,
  sizing: (settings) => ({
    timeoutSeconds: 29,
    ...(settings.webhookReservedConcurrency > 0 ? { reservedConcurrency: settings.webhookReservedConcurrency } : {}),
  }),
});
