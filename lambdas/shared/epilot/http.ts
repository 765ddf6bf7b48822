import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type * as z from 'zod';
import type { Clock } from '../clock';
import { EpilotAuthError, EpilotPermanentError, EpilotTransientError, InvalidEpilotDataError } from '../errors';
import type { EpilotApiName, EpilotEndpoints } from '../config/settings';

/**
 * Resolves the bearer token; on AWS it reads Secrets Manager and caches it. `invalidate` drops the cache, so the
 * next call after a 401/403 reads the (possibly rotated) secret again.
 */
export type TokenProvider = (() => Promise<string>) & { invalidate?: () => void };

export interface EpilotHttpOptions {
  endpoints: EpilotEndpoints;
  token: TokenProvider;
  timeoutMs: number;
  clock: Clock;
  /** Attempts for calls that are safe to repeat (reads, the step patch, searches). */
  maxAttempts?: number;
  /** Bodies larger than this are refused as bad data instead of filling a Lambda's memory. */
  maxResponseBytes?: number;
  /** Sees every request the runner sends; the local runner counts calls with it. */
  onRequest?: (call: { api: EpilotApiName; operation: string; method: string; path: string }) => void;
}

export interface EpilotCall<S extends z.ZodType> {
  api: EpilotApiName;
  /** epilot's operationId: error messages and logs name the call by it. */
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number>;
  body?: unknown;
  /** Whether sending the request twice does no harm; only such calls are retried here. */
  idempotent: boolean;
  schema: S;
}

const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 5_000;
const RETRY_AFTER_CAP_MS = 20_000;
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_NETWORK',
]);

/**
 * The one place that talks HTTP to epilot: auth, timeouts, retries with capped backoff and full jitter for
 * repeatable calls, and the translation of every failure into an error whose name Step Functions can act on.
 * Nothing it throws carries request headers, so the token cannot leak into logs or execution history.
 */
export class EpilotHttp {
  private readonly axios: AxiosInstance;
  private readonly maxAttempts: number;

  constructor(private readonly options: EpilotHttpOptions) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.axios = axios.create({
      timeout: options.timeoutMs,
      maxContentLength: options.maxResponseBytes ?? 5 * 1024 * 1024,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
    });
  }

  /** Sends the call and returns its parsed body; an empty 2xx body is bad data. */
  async send<S extends z.ZodType>(call: EpilotCall<S>): Promise<z.output<S>> {
    const body = await this.sendAllowingEmpty(call);
    if (body === undefined) {
      throw new InvalidEpilotDataError(`${call.operation} (${call.method} ${call.path}) answered with an empty body`);
    }
    return body;
  }

  /** Sends the call and returns its parsed body, or `undefined` when epilot answered 2xx with an empty body. */
  async sendAllowingEmpty<S extends z.ZodType>(call: EpilotCall<S>): Promise<z.output<S> | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sendOnce(call);
      } catch (error) {
        if (!(error instanceof TransientFailure) || !call.idempotent || attempt >= this.maxAttempts) {
          throw error instanceof TransientFailure ? new EpilotTransientError(error.message) : error;
        }
        await this.options.clock.sleep(error.retryAfterMs ?? fullJitterBackoff(attempt));
      }
    }
  }

  private async sendOnce<S extends z.ZodType>(call: EpilotCall<S>): Promise<z.output<S> | undefined> {
    const what = `${call.operation} (${call.method} ${call.path})`;
    const token = await this.options.token();
    this.options.onRequest?.({ api: call.api, operation: call.operation, method: call.method, path: call.path });
    let response: AxiosResponse<string>;
    try {
      response = await this.axios.request<string>({
        baseURL: this.options.endpoints[call.api],
        url: call.path,
        method: call.method,
        params: call.query,
        data: call.body === undefined ? undefined : JSON.stringify(call.body),
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(call.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
      });
    } catch (error) {
      throw classifyNetworkError(error, what);
    }
    const { status } = response;
    const text = typeof response.data === 'string' ? response.data : '';
    if (status === 429 || status >= 500) {
      throw new TransientFailure(`${what} answered ${status}${errorDetail(text, token)}`, retryAfterMs(response));
    }
    if (status === 401 || status === 403) {
      // The token may just have been rotated: read it afresh next time. The message names the call, never the token.
      this.options.token.invalidate?.();
      throw new EpilotAuthError(`${what} answered ${status}${errorDetail(text, token)}`, status);
    }
    // Redirects are not followed (maxRedirects: 0); a 3xx must not pass for an empty success ("not found").
    if (status >= 300) {
      throw new EpilotPermanentError(`${what} answered ${status}${errorDetail(text, token)}`, status);
    }
    if (text.trim() === '') return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidEpilotDataError(`${what} answered ${status} with a body that is not JSON`);
    }
    const parsed = call.schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
        .join('; ');
      throw new InvalidEpilotDataError(`${what} answered with unusable data: ${issues}`);
    }
    return parsed.data;
  }
}

/** Internal marker: the call may succeed if repeated. Becomes an EpilotTransientError when retries run out. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function classifyNetworkError(error: unknown, what: string): Error {
  const code = axios.isAxiosError(error) ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (axios.isAxiosError(error) && message.includes('maxContentLength')) {
    return new InvalidEpilotDataError(`${what} answered with a body larger than the runner accepts`);
  }
  if (code === undefined || TRANSIENT_NETWORK_CODES.has(code) || /timeout|socket hang up|aborted/i.test(message)) {
    return new TransientFailure(`${what} failed: ${code ?? message}`);
  }
  return new EpilotPermanentError(`${what} failed: ${code}: ${message}`, 0);
}

function retryAfterMs(response: AxiosResponse): number | undefined {
  const header: unknown = response.headers['retry-after'];
  if (typeof header !== 'string' && typeof header !== 'number') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, RETRY_AFTER_CAP_MS);
  const date = Date.parse(String(header));
  return Number.isNaN(date) ? undefined : Math.min(Math.max(date - Date.now(), 0), RETRY_AFTER_CAP_MS);
}

/** "Full jitter" (AWS Architecture Blog): spreads retries of many callers instead of synchronising them. */
export function fullJitterBackoff(attempt: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt));
}

/**
 * epilot's error bodies are `{message}` (workflows) or `{status, error}` (entity, automation); keep it short, and
 * never repeat the token should a server echo it back.
 */
function errorDetail(text: string, token: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const detail = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : '';
    return detail ? `: ${detail.split(token).join('[redacted]').slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
