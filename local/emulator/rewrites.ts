import type { AslDefinition, AslState } from './asl';

/**
 * Where the library's defaults differ from Step Functions', the definition it runs is a rewritten copy. It gives a
 * Task without TimeoutSeconds a 60-second limit (the ASL spec's default; Step Functions has none for Lambda tasks),
 * and it hands every duration to setTimeout, which fires after 1 ms for anything above 2^31-1 ms.
 */

export const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** The copy of a (checked) definition the library runs. */
export function libraryDefinition(definition: AslDefinition): AslDefinition {
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    // checks.ts refuses TimeoutSeconds on Tasks, so this only removes the library's default.
    states[name] = state.Type === 'Task' ? { ...state, TimeoutSeconds: MAX_TIMER_SECONDS } : state;
  }
  const timeout = definition['TimeoutSeconds'];
  return {
    ...definition,
    States: states,
    ...(typeof timeout === 'number' ? { TimeoutSeconds: Math.min(timeout, MAX_TIMER_SECONDS) } : {}),
  };
}

/**
 * The library's `waitTimeOverrides`: how many real milliseconds each Wait state pauses. Wait states only have a
 * fixed `Seconds` (checks.ts), so one value per state, computed before the run, is exact.
 */
export function waitTimeOverrides(
  definition: AslDefinition,
  waitMs: ((stateName: string, seconds: number) => number) | undefined,
): Record<string, number> {
  const overrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== 'Wait') continue;
    const seconds = typeof state['Seconds'] === 'number' ? Math.max(0, state['Seconds']) : 0;
    const ms = waitMs ? waitMs(name, seconds) : seconds * 1000;
    overrides[name] = Math.min(Math.max(0, ms), MAX_TIMER_MS);
  }
  return overrides;
}
