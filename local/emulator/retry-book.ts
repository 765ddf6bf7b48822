import * as z from 'zod';
import type { AslDefinition } from './asl';
import { MAX_TIMER_MS } from './rewrites';

/**
 * Retry delays go through the library's public `retryIntervalOverrides` (a delay per state name), but callers want
 * to scale the delay Step Functions would choose for *this* retry, which depends on the matching retrier and its
 * attempt count. So the book decides each retry as the library will, when the handler fails, and leaves the delay
 * in the overrides object before the rejection reaches the library. That relies on the library reading the
 * override right after the handler's rejection (pinned by "retry-book" tests in state-machine-runner.test.ts), and
 * on deciding alike: every StateRetried event is checked against the decision, and a difference fails the run.
 */

const retrierSchema = z.object({
  ErrorEquals: z.array(z.string()),
  IntervalSeconds: z.number().optional(),
  MaxAttempts: z.number().optional(),
  BackoffRate: z.number().optional(),
  MaxDelaySeconds: z.number().optional(),
  JitterStrategy: z.enum(['FULL', 'NONE']).optional(),
});
export type Retrier = z.infer<typeof retrierSchema>;

export type RetryDelayMs = (stateName: string, attempt: number, defaultMs: number) => number;

interface Decision {
  /** Which entry of the state (1 = first) the retry belongs to. */
  entry: number;
  retrierIndex: number;
  attempt: number;
}

interface StateBook {
  /** Entries of the state so far, as handler calls show them. */
  entries: number;
  /** Retries so far in the current entry, per retrier index (the library resets them per entry too). */
  attempts: number[];
  /** A retry was decided and its handler call has not started yet. */
  retryDue: boolean;
  /** Decided retries whose StateRetried event has not arrived yet, oldest first. */
  unconfirmed: Decision[];
  /** Entries of the state so far, as the event log shows them (it runs behind the handler calls). */
  entriesLogged: number;
}

export class RetryBook {
  /** Handed to the library as `retryIntervalOverrides`; a number applies to whichever retrier matches. */
  readonly overrides: Record<string, number> = {};
  private readonly retriers = new Map<string, Retrier[]>();
  /** The retriers as written, to compare with the ones StateRetried events carry. */
  private readonly retrierTexts = new Map<string, string[]>();
  private readonly books = new Map<string, StateBook>();

  constructor(
    definition: AslDefinition,
    private readonly delayMs: RetryDelayMs | undefined,
  ) {
    for (const [name, state] of Object.entries(definition.States)) {
      if (state['Retry'] === undefined) continue;
      this.retriers.set(name, z.array(retrierSchema).parse(state['Retry']));
      this.retrierTexts.set(
        name,
        z
          .array(z.unknown())
          .parse(state['Retry'])
          .map((retrier) => JSON.stringify(retrier)),
      );
    }
  }

  /** A handler call of `state`: the retry decided last, or else a new entry of the state. */
  called(state: string): void {
    const book = this.bookOf(state);
    if (book.retryDue) {
      book.retryDue = false;
      return;
    }
    book.entries += 1;
    book.attempts = [];
  }

  /**
   * The handler of `state` failed. As the library decides: the first retrier whose ErrorEquals names the error,
   * States.ALL or States.TaskFailed, while its attempts are below MaxAttempts (default 3); non-retryable errors never.
   */
  failed(state: string, error: Error & { isRetryable: boolean }): void {
    // The library looks a state up in this plain object (its retryIntervalOverrides option): the key must go.
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
    delete this.overrides[state];
    const book = this.bookOf(state);
    const retriers = this.retriers.get(state) ?? [];
    if (!error.isRetryable) return;
    const retrierIndex = retriers.findIndex((r) =>
      r.ErrorEquals.some((e) => e === error.name || e === 'States.ALL' || e === 'States.TaskFailed'),
    );
    const retrier = retriers[retrierIndex];
    if (!retrier) return;
    const attempt = (book.attempts[retrierIndex] ?? 0) + 1;
    if (attempt > (retrier.MaxAttempts ?? 3)) return;
    book.attempts[retrierIndex] = attempt;
    book.retryDue = true;
    book.unconfirmed.push({ entry: book.entries, retrierIndex, attempt });
    const defaultMs = stepFunctionsDelayMs(retrier, attempt);
    const ms = this.delayMs ? this.delayMs(state, attempt, defaultMs) : defaultMs;
    this.overrides[state] = Math.min(Math.max(0, ms), MAX_TIMER_MS);
  }

  /** The library's StateEntered event: every retry decided for earlier entries must have been made by now. */
  loggedEntry(state: string): void {
    const book = this.bookOf(state);
    book.entriesLogged += 1;
    const missed = book.unconfirmed.find((decision) => decision.entry < book.entriesLogged);
    if (missed)
      throw disagreement(state, `expected retry attempt ${missed.attempt} of retrier ${missed.retrierIndex}, the library made none`);
  }

  /** The library's StateRetried event: it must be the retry decided first and not confirmed yet. */
  loggedRetry(state: string, retrier: unknown, attempt: number): void {
    const book = this.bookOf(state);
    const expected = book.unconfirmed.shift();
    const texts = this.retrierTexts.get(state) ?? [];
    const agrees =
      expected?.entry === book.entriesLogged && expected.attempt === attempt && texts[expected.retrierIndex] === JSON.stringify(retrier);
    if (!agrees) {
      const decided = expected ? `attempt ${expected.attempt} of retrier ${expected.retrierIndex}` : 'no retry';
      throw disagreement(state, `the library made attempt ${attempt} of retrier ${JSON.stringify(retrier)}, the runner decided ${decided}`);
    }
  }

  /** Once the run has ended by itself (not timed out), every decided retry must have been made. */
  assertAllMade(): void {
    for (const [state, book] of this.books) {
      const [missed] = book.unconfirmed;
      if (missed)
        throw disagreement(state, `expected retry attempt ${missed.attempt} of retrier ${missed.retrierIndex}, the library made none`);
    }
  }

  private bookOf(state: string): StateBook {
    let book = this.books.get(state);
    if (!book) {
      book = { entries: 0, attempts: [], retryDue: false, unconfirmed: [], entriesLogged: 0 };
      this.books.set(state, book);
    }
    return book;
  }
}

function disagreement(state: string, what: string): Error {
  return new Error(`Retry of ${state}: ${what}. aws-local-stepfunctions no longer retries as retry-book.ts replicates it`);
}

/** IntervalSeconds × BackoffRate^(attempt-1), capped at MaxDelaySeconds, FULL jitter applied. */
export function stepFunctionsDelayMs(retrier: Retrier, attempt: number): number {
  const seconds = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
  const capped = retrier.MaxDelaySeconds === undefined ? seconds : Math.min(seconds, retrier.MaxDelaySeconds);
  return Math.round((retrier.JitterStrategy === 'FULL' ? Math.random() : 1) * capped * 1000);
}
