import type { Clock } from '../lambdas/shared/clock';

/**
 * Simulated time shared by processes: every process that builds this clock from the same origin and factor reads
 * the same simulated "now", so a runner restarted in a new process compares leases against the simulator's time.
 * (`scaledClock` starts from each process's own present, which would shift time on every restart.)
 */
export function sharedScaledClock(originMs: number, factor: number): Clock {
  if (!(factor > 0)) throw new RangeError(`time scale must be a positive number, got ${factor}`);
  return {
    now: () => originMs + Math.round((Date.now() - originMs) * factor),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms / factor)),
  };
}

/** mulberry32: small seeded PRNG, so fault decisions and kill delays repeat run after run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Settings a soak runner process needs; passed from the parent as one JSON argument. */
export interface SoakRunnerConfig {
  apiUrl: string;
  stateDir: string;
  clockOrigin: number;
  timeScale: number;
  concurrency: number;
  /** Runner settings in simulated ms. */
  automationTimeoutMs: number;
  claimLeaseMs: number;
  doneSettleMs: number;
  pollIntervalMs: number;
  /** Real ms. */
  httpTimeoutMs: number;
  maxSweeps: number;
}

export const realDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
