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

/** A clock that runs `factor` times faster than real time, starting from the real present. */
export function scaledClock(factor: number): Clock {
  if (!(factor > 0)) throw new RangeError(`clock scale must be a positive number, got ${factor}`);
  const realStart = Date.now();
  return {
    now: () => realStart + Math.round((Date.now() - realStart) * factor),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms / factor)),
  };
}
