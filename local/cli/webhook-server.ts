import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_WEBHOOK_BODY_BYTES, type WebhookRequest, type WebhookResponse } from '../../lambdas/webhook/webhook';

export interface WebhookServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** The webhook receiver's Lambda handler (through the local runner): it alone decides every answer (405, 413, 401…). */
  receive: (request: WebhookRequest & { method: string }) => Promise<WebhookResponse>;
  /** Deliveries handled at once; more are answered 429 (what a throttled Lambda Function URL answers). */
  maxInFlight?: number;
  /** Sees every answered delivery (for the console). */
  onDelivery?: (delivery: { webhookId: string | undefined; response: WebhookResponse; durationMs: number }) => void;
}

export interface WebhookServer {
  /** `http://host:port/webhook` */
  url: string;
  port: number;
  /** Stops accepting, waits for deliveries being answered, closes idle connections. Idempotent. */
  close(): Promise<void>;
}

/** A node:http server for `POST /webhook` in front of the same receiver code the Lambda runs. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const inFlight = new Set<Promise<void>>();
  const server = createServer((request, response) => {
    if (options.maxInFlight !== undefined && inFlight.size >= options.maxInFlight) {
      request.resume();
      send(response, {
        statusCode: 429,
        body: JSON.stringify({ status: 'throttled', message: 'too many deliveries at once; retry later' }),
      });
      return;
    }
    const handling = handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent) send(response, { statusCode: 500, body: JSON.stringify({ status: 'error', message: String(error) }) });
    });
    inFlight.add(handling);
    void handling.finally(() => inFlight.delete(handling));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/webhook`,
    port,
    close: () =>
      (closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        server.closeIdleConnections();
        await stopped;
      })()),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, options: WebhookServerOptions): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/webhook') {
    send(response, { statusCode: 404, body: JSON.stringify({ status: 'not found', message: 'POST deliveries to /webhook' }) });
    return;
  }
  const started = Date.now();
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  const body = await readBody(request);
  const answer = await options.receive({ method: request.method ?? 'GET', headers, body: body.toString('utf8') });
  send(response, answer);
  options.onDelivery?.({ webhookId: headers['webhook-id'], response: answer, durationMs: Date.now() - started });
}

/**
 * The raw body, cut one byte past the receiver's limit: the receiver then refuses it (413) the way the Lambda does,
 * and a flood never sits in memory.
 */
async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    const room = MAX_WEBHOOK_BODY_BYTES + 1 - size;
    if (room > 0) chunks.push(buffer.subarray(0, room));
    size += Math.min(buffer.byteLength, Math.max(room, 0));
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, answer: WebhookResponse): void {
  response.writeHead(answer.statusCode, { 'content-type': 'application/json' });
  response.end(answer.body);
}
