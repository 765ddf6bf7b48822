import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type * as z from 'zod';
import type { Clock } from '../clock';
import { EpilotAuthError, EpilotPermanentError, EpilotRateLimitedError, EpilotTransientError, InvalidEpilotDataError } from '../errors';
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
  /**
   * Told of every 401/403 (the call's name and epilot's message, never the token), so it is logged as an error: a
   * token refused for long is a misconfiguration someone must fix, even though each call is retried.
   */
  onAuthRefused?: (refusal: { call: string; status: number; message: string }) => void;
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
  /** Whether sending the request twice does no harm; only such calls are retried here (401/403 aside, see below). */
  idempotent: boolean;
  schema: S;
  /**
   * Epoch ms by which the call must have ended (the caller's Lambda returns soon after): no retry is made, and no
   * `Retry-After` slept, that could run past it. Without it the retries are bounded by the attempts alone.
   */
  notAfter?: number;
  /**
   * Sent once here, never retried in place: a write that follows a read of what it may overwrite (a step patch
   * after the step was read) would otherwise land after a pause in which the read went stale. Its caller's retry
   * reads again first.
   */
  once?: boolean;
}

const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 5_000;
/**
 * The longest `Retry-After` honoured; a longer one counts as this long. Step Functions' Retry intervals are fixed
 * in the definition, so some bound is needed for RATE_LIMITED_RETRY (lib/sfn/retries.ts) to wait at least what
 * epilot asked; its interval is this value.
 */
export const RETRY_AFTER_CAP_MS = 20_000;
/**
 * The longest `Retry-After` slept inside the Lambda before calling again (two such sleeps fit the 10 s of slack
 * pollCallSeconds gives the poller). A longer wait leaves the Lambda as EpilotRateLimitedError and Step Functions
 * waits it out, which costs no Lambda time and cannot run into the Lambda's timeout.
 */
const IN_PROCESS_RETRY_AFTER_MAX_MS = 5_000;
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
        const wait = this.retryWait(call, error, attempt);
        if (wait === undefined) throw finalError(error);
        await this.options.clock.sleep(wait);
      }
    }
  }

  /**
   * How long to wait before sending the call again, or `undefined` to give up. Transient failures are retried for
   * repeatable calls only. A 401/403 is retried for every call, the start included: epilot refused it before doing
   * anything, and the token provider re-reads a token that may just have been rotated. A retry waits at least the
   * `Retry-After` epilot sent, and is not made when that wait is long or would run past the call's `notAfter`.
   */
  private retryWait(call: EpilotCall<z.ZodType>, error: unknown, attempt: number): number | undefined {
    if (attempt >= this.maxAttempts || call.once) return undefined;
    const repeatable = error instanceof TransientFailure ? call.idempotent : error instanceof EpilotAuthError;
    if (!repeatable) return undefined;
    const retryAfter = error instanceof TransientFailure ? error.retryAfterMs : undefined;
    if (retryAfter !== undefined && retryAfter > IN_PROCESS_RETRY_AFTER_MAX_MS) return undefined;
    const wait = Math.max(retryAfter ?? 0, fullJitterBackoff(attempt));
    if (call.notAfter !== undefined && this.options.clock.now() + wait + this.options.timeoutMs > call.notAfter) return undefined;
    return wait;
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
      const message = `${what} answered ${status}${errorDetail(text, token)}`;
      this.options.token.invalidate?.();
      this.options.onAuthRefused?.({ call: what, status, message });
      throw new EpilotAuthError(message, status);
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

/**
 * Internal marker: the call may succeed if repeated. Becomes an EpilotTransientError when retries run out, or an
 * EpilotRateLimitedError when epilot's last answer asked for a wait.
 */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function finalError(error: unknown): unknown {
  if (!(error instanceof TransientFailure)) return error;
  // `Retry-After: 0` asks for no wait: any retry honours it, so it stays an ordinary transient failure.
  return error.retryAfterMs === undefined || error.retryAfterMs === 0
    ? new EpilotTransientError(error.message)
    : new EpilotRateLimitedError(`${error.message} (Retry-After ${error.retryAfterMs} ms)`, error.retryAfterMs);
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
