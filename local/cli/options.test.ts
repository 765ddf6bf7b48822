import { Command } from 'commander';
import * as z from 'zod';
import { FaultOptionsSchema } from '../../simulator/faults';
import { acceptedNumbers, addSettingOptions, rangeOf, settingsFromOptions, UsageError, withRange } from './options';

describe('setting options', () => {
  it('show the range of the setting’s schema and the command’s default in their help', () => {
    const command = addSettingOptions(new Command(), ['runner'], { automationTimeoutMs: 8000 });
    const help = (flag: string) => command.options.find((option) => option.long === flag)?.description;

    expect(help('--poll-interval-ms')).toBe('milliseconds between two status calls of one automation run (100–60000, default: 1000)');
    expect(help('--automation-timeout-ms')).toMatch(/\(1000–86400000, default: 8000\)$/);
    expect(help('--search-query')).toMatch(/\(default: \*\)$/);
  });

  it.each([
    [{ pollIntervalMs: '50' }, 'option --poll-interval-ms: must be at least 100'],
    [
      { pollIntervalMs: '5000', automationTimeoutMs: '1000' },
      'option --poll-interval-ms: must not be longer than --automation-timeout-ms (1000)',
    ],
  ])('refuse %j naming the options, never the setting names', (given, message) => {
    expect(() => settingsFromOptions(given)).toThrow(new UsageError(message));
  });
});

describe('rangeOf', () => {
  it('reads the bounds of a schema, leaving out the safe-integer bounds z.int() sets by itself', () => {
    expect(rangeOf(z.number().min(0).max(1))).toBe('0–1');
    expect(rangeOf(z.int().min(0))).toBe('at least 0');
    expect(rangeOf(z.string())).toBeUndefined();
    expect(acceptedNumbers(FaultOptionsSchema.shape.resetRate.unwrap())).toBe('a number, 0–1');
    expect(acceptedNumbers(FaultOptionsSchema.shape.retryAfterSeconds.unwrap())).toBe('a whole number, at least 0');
    expect(withRange('share of requests', z.number().min(0).max(1))).toBe('share of requests (0–1)');
  });
});
