/**
 * Time as the runner sees it. Lambdas use real time; local runs, tests and the benchmark pass a scaled clock so
 * a five-minute automation can be simulated in seconds while every duration the code computes stays realistic.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A clock that runs `factor` times faster than real time, from `originMs` (default: the real present). Processes
 * that build it from the same origin and factor read the same simulated "now": a runner restarted in a new process
 * compares leases against the same time as the simulator.
 */
export function scaledClock(factor: number, originMs = Date.now()): Clock {
  if (!(factor > 0)) throw new RangeError(`clock scale must be a positive number, got ${factor}`);
  return {
    now: () => originMs + Math.round((Date.now() - originMs) * factor),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms / factor)),
  };
}
