import {
  EPILOT_PRODUCTION_HOSTS,
  endpointsOf,
  envName,
  optionName,
  parseSettings,
  runnerSettings,
  SETTING_NAMES,
  settingsEnvironment,
  settingsFromEnvironment,
  settingsIn,
} from './settings';

describe('settings from the environment', () => {
  it('gives every setting its default for an empty environment', () => {
    expect(settingsFromEnvironment({})).toEqual({
      epilotTokenSecretName: 'epilot-task-runner/api-token',
      pollIntervalMs: 1000,
      pollWindowMs: 120_000,
      automationTimeoutMs: 300_000,
      claimLeaseMs: 120_000,
      doneSettleMs: 600_000,
      startSettleMs: 180_000,
      httpTimeoutMs: 10_000,
      searchQuery: '*',
      searchPageSize: 1000,
      webhookSecretName: 'epilot-task-runner/webhook-secret',
      webhookReservedConcurrency: 0,
      sweepRateMinutes: 1,
    });
  });

  it('reads back exactly the settings it was given through settingsEnvironment', () => {
    const settings = parseSettings({
      epilotApiUrl: 'https://proxy.example',
      entityApiUrl: 'https://entity.example',
      workflowApiUrl: 'https://workflow.example',
      automationApiUrl: 'http://automation.example:8080',
      epilotTokenSecretName: 'org/token',
      pollIntervalMs: 250,
      pollWindowMs: 0,
      automationTimeoutMs: 60_000,
      claimLeaseMs: 30_000,
      doneSettleMs: 0,
      startSettleMs: 60_000,
      httpTimeoutMs: 5000,
      searchQuery: '_schema:opportunity',
      searchPageSize: 50,
      webhookSecretName: 'org/webhook',
      webhookReservedConcurrency: 7,
      sweepRateMinutes: 5,
    });

    const environment = settingsEnvironment(settings, SETTING_NAMES);

    expect(Object.keys(environment)).toHaveLength(SETTING_NAMES.length);
    expect(settingsFromEnvironment(environment)).toEqual(settings);
  });

  it('puts only the settings of the groups asked for into an environment', () => {
    const environment = settingsEnvironment(parseSettings({}), settingsIn(['runner']));

    expect(Object.keys(environment).sort()).toEqual(
      [
        'AUTOMATION_TIMEOUT_MS',
        'CLAIM_LEASE_MS',
        'DONE_SETTLE_MS',
        'POLL_INTERVAL_MS',
        'POLL_WINDOW_MS',
        'SEARCH_PAGE_SIZE',
        'SEARCH_QUERY',
        'START_SETTLE_MS',
      ].sort(),
    );
  });

  it('treats empty variables as unset and ignores variables it does not know', () => {
    const settings = settingsFromEnvironment({ POLL_INTERVAL_MS: '', EPILOT_API_URL: '', PATH: '/usr/bin' });

    expect(settings.pollIntervalMs).toBe(1000);
    expect(settings.epilotApiUrl).toBeUndefined();
  });

  it.each([
    ['POLL_INTERVAL_MS', 'soon'],
    ['POLL_INTERVAL_MS', '1.5'],
    ['POLL_INTERVAL_MS', '50'],
    ['POLL_WINDOW_MS', '-1'],
    ['AUTOMATION_TIMEOUT_MS', '999'],
    ['CLAIM_LEASE_MS', 'forever'],
    ['DONE_SETTLE_MS', '-5'],
    ['START_SETTLE_MS', '999'],
    ['HTTP_TIMEOUT_MS', '999999999'],
    ['SEARCH_PAGE_SIZE', '1001'],
    ['SEARCH_PAGE_SIZE', '0'],
    ['EPILOT_API_URL', 'not a url'],
    ['WORKFLOW_API_URL', 'ftp://workflows.example'],
    ['SWEEP_RATE_MINUTES', '-1'],
  ])('fails naming %s for the bad value %j', (variable, value) => {
    expect(() => settingsFromEnvironment({ [variable]: value })).toThrow(`environment variable ${variable}:`);
    expect(() => settingsFromEnvironment({ [variable]: value })).toThrow(/^Invalid configuration/);
  });

  it('names every bad variable at once', () => {
    expect(() => settingsFromEnvironment({ POLL_INTERVAL_MS: 'x', SEARCH_PAGE_SIZE: 'y' })).toThrow(
      /POLL_INTERVAL_MS.*SEARCH_PAGE_SIZE|SEARCH_PAGE_SIZE.*POLL_INTERVAL_MS/,
    );
  });
});

describe('settings that cannot work together', () => {
  it('refuses a poll interval longer than the automation timeout, naming both', () => {
    expect(() => parseSettings({ pollIntervalMs: 10_000, automationTimeoutMs: 5000 })).toThrow(
      'setting pollIntervalMs: must not be longer than automationTimeoutMs (5000)',
    );
  });

  it('refuses a start-settle window not longer than the HTTP timeout, naming both', () => {
    expect(() => parseSettings({ startSettleMs: 10_000, httpTimeoutMs: 10_000 })).toThrow(
      'setting startSettleMs: must be longer than httpTimeoutMs (10000)',
    );
    expect(() => settingsFromEnvironment({ START_SETTLE_MS: '5000', HTTP_TIMEOUT_MS: '8000' })).toThrow(
      'environment variable START_SETTLE_MS: must be longer than HTTP_TIMEOUT_MS (8000)',
    );
    expect(parseSettings({ startSettleMs: 10_001, httpTimeoutMs: 10_000 }).startSettleMs).toBe(10_001);
  });

  it('refuses a poll window whose status call cannot fit in a Lambda invocation, naming the options', () => {
    expect(() => parseSettings({ pollWindowMs: 600_000, httpTimeoutMs: 120_000 }, 'option', (name) => `--${optionName(name)}`)).toThrow(
      /option --poll-window-ms: one status call \(--poll-window-ms \+ --poll-interval-ms \+ 6 × --http-timeout-ms\)/,
    );
  });
});

describe('settings that cannot work together: leases and history', () => {
  it('refuses a claim lease not longer than one start call with its retries (3 × httpTimeoutMs), naming both', () => {
    expect(() => parseSettings({ claimLeaseMs: 30_000, httpTimeoutMs: 10_000 })).toThrow(
      'setting claimLeaseMs: must be longer than one start call with its retries (3 × httpTimeoutMs = 30000)',
    );
    expect(parseSettings({ claimLeaseMs: 30_001, httpTimeoutMs: 10_000 }).claimLeaseMs).toBe(30_001);
  });

  it('refuses a poll window of 0 with an automation timeout that would reach 25,000 history events, naming the options', () => {
    // 24 h / 1 s per loop × 5 events = 432,000 events.
    expect(() =>
      parseSettings(
        { pollWindowMs: 0, pollIntervalMs: 1000, automationTimeoutMs: 86_400_000 },
        'option',
        (name) => `--${optionName(name)}`,
      ),
    ).toThrow(/option --poll-window-ms: polling a run for --automation-timeout-ms \(86400000\).*over the 25000 limit/);
  });

  it('accepts a poll window of 0 while the automation timeout stays under 25,000 history events', () => {
    // 5 min / 1 s per loop × 5 events = 1,500 events.
    expect(parseSettings({ pollWindowMs: 0, pollIntervalMs: 1000, automationTimeoutMs: 300_000 }).pollWindowMs).toBe(0);
  });

  it('accepts the defaults and the end-to-end fixtures (automationTimeoutMs 8000, claimLeaseMs 10000, httpTimeoutMs 2000)', () => {
    expect(() => parseSettings({})).not.toThrow();
    expect(() =>
      parseSettings({ automationTimeoutMs: 8000, claimLeaseMs: 10_000, pollIntervalMs: 1000, httpTimeoutMs: 2000 }),
    ).not.toThrow();
  });
});

describe('setting names', () => {
  it.each([
    ['pollIntervalMs', 'POLL_INTERVAL_MS', 'poll-interval-ms'],
    ['epilotApiUrl', 'EPILOT_API_URL', 'epilot-api-url'],
    ['epilotTokenSecretName', 'EPILOT_TOKEN_SECRET_NAME', 'epilot-token-secret-name'],
    ['sweepRateMinutes', 'SWEEP_RATE_MINUTES', 'sweep-rate-minutes'],
  ] as const)('spells %s as the variable %s and the option --%s', (name, variable, option) => {
    expect(envName(name)).toBe(variable);
    expect(optionName(name)).toBe(option);
  });

  it('gives every setting a distinct variable and option', () => {
    expect(new Set(SETTING_NAMES.map(envName)).size).toBe(SETTING_NAMES.length);
    expect(new Set(SETTING_NAMES.map(optionName)).size).toBe(SETTING_NAMES.length);
  });
});

describe('endpointsOf', () => {
  it('uses epilot’s production hosts when no URL is set', () => {
    expect(endpointsOf(parseSettings({}))).toEqual(EPILOT_PRODUCTION_HOSTS);
  });

  it('points all three APIs at epilotApiUrl over the per-API URLs', () => {
    const settings = parseSettings({ epilotApiUrl: 'https://simulator.test', entityApiUrl: 'https://entity.example' });

    expect(endpointsOf(settings)).toEqual({
      entity: 'https://simulator.test',
      workflow: 'https://simulator.test',
      automation: 'https://simulator.test',
    });
  });
});

describe('runnerSettings', () => {
  it('fails naming the setting', () => {
    expect(() => runnerSettings({ searchPageSize: 5000 })).toThrow(/setting searchPageSize/);
  });
});
