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
