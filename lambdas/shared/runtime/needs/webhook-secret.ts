import { defineNeed } from '../function-definition';
import { secretsManagerWebhookSecret } from '../secrets';

export const webhookSecretNeed = defineNeed('webhookSecret', ({ settings }) => ({
  secret: secretsManagerWebhookSecret(settings.webhookSecretName),
}));
