/**
 * A Standard Webhooks delivery as epilot sends it: the three `webhook-*` headers, signed with the endpoint's
 * `whsec_` secret over id, timestamp and body. Sent by the `deliver` command, the webhook tests and the soak.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A fresh signing secret in the `whsec_<base64>` form epilot hands out. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface DeliveryOptions {
  secret: string;
  /** The delivery id (`webhook-id`); a random `msg_…` by default. Repeat it to send a redelivery. */
  id?: string;
  /** When it was signed; now by default. Move it to test the receiver's tolerance window. */
  at?: Date;
}

export interface SignedDelivery {
  headers: Record<string, string>;
  body: string;
}

/** The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for `body`, plus the JSON content type. */
export function signedDelivery(body: string, options: DeliveryOptions): SignedDelivery {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const at = options.at ?? new Date();
  return {
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(options.secret).sign(id, at, body),
    },
    body,
  };
}
