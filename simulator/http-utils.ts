import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 5 * 1024 * 1024;

export type BodyRead = { kind: 'ok'; text: string } | { kind: 'tooLarge' } | { kind: 'aborted' };

/** Past this the upload is cut off instead of drained (the 413 is then lost, but nothing sane sends that much). */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads the request body. A body over MAX_BODY_BYTES is drained and discarded, so the 413 that follows is
 * read by the client instead of racing its upload (answering mid-upload makes many clients see a reset).
 */
export function readBody(req: IncomingMessage): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (result: BodyRead): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (length > DRAIN_LIMIT_BYTES) {
        req.destroy();
        settle({ kind: 'aborted' });
      } else chunks.length = 0;
    });
    req.on('end', () =>
      settle(length > MAX_BODY_BYTES ? { kind: 'tooLarge' } : { kind: 'ok', text: Buffer.concat(chunks, length).toString('utf8') }),
    );
    req.on('error', () => settle({ kind: 'aborted' }));
    req.on('close', () => settle({ kind: 'aborted' }));
  });
}

/** `body === undefined` sends a 0-byte body (the workflow API's "not found" answer). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)), ...headers });
  res.end(payload);
}
