import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export type BodyRead = { kind: 'ok'; text: string } | { kind: 'tooLarge' } | { kind: 'aborted' };

/** Reads the request body, giving up as soon as it exceeds MAX_BODY_BYTES (declared or actual). */
export function readBody(req: IncomingMessage): Promise<BodyRead> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.resolve({ kind: 'tooLarge' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (result: BodyRead): void => {
      if (settled) return;
      settled = true;
      req.removeListener('data', onData);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) {
        req.pause();
        settle({ kind: 'tooLarge' });
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => settle({ kind: 'ok', text: Buffer.concat(chunks, length).toString('utf8') }));
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
