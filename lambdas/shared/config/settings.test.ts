import { EPILOT_PRODUCTION_HOSTS, lambdaConfigFromEnv, required, runnerSettings } from './settings';

describe('lambdaConfigFromEnv', () => {
  it('uses epilot’s production hosts and the default settings for an empty environment', () => {
    const config = lambdaConfigFromEnv({});

    expect(config.endpoints).toEqual(EPILOT_PRODUCTION_HOSTS);
    expect(config.tokenSecretName).toBeUndefined();
    expect(config.taskTableName).toBeUndefined();
    expect(config.taskStateMachineArn).toBeUndefined();
    expect(config.settings).toEqual({
      pollIntervalMs: 1000,
      pollWindowMs: 120_000,
      automationTimeoutMs: 300_000,
      claimLeaseMs: 120_000,
      doneSettleMs: 600_000,
      httpTimeoutMs: 10_000,
      searchQuery: '*',
      searchPageSize: 1000,
    });
  });

  it('reads every variable', () => {
    const config = lambdaConfigFromEnv({
      EPILOT_ENTITY_API_URL: 'https://entity.example',
      EPILOT_WORKFLOW_API_URL: 'https://workflow.example',
      EPILOT_AUTOMATION_API_URL: 'http://automation.example:8080',
      EPILOT_TOKEN_SECRET_NAME: 'secret',
      TASK_TABLE_NAME: 'table',
      TASK_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:1:stateMachine:Task',
      POLL_INTERVAL_MS: '250',
      POLL_WINDOW_MS: '0',
      AUTOMATION_TIMEOUT_MS: '60000',
      CLAIM_LEASE_MS: '30000',
      DONE_SETTLE_MS: '0',
      HTTP_TIMEOUT_MS: '5000',
      SEARCH_QUERY: '_schema:opportunity',
      SEARCH_PAGE_SIZE: '50',
    });

    expect(config).toEqual({
      endpoints: {
        entity: 'https://entity.example',
        workflow: 'https://workflow.example',
        automation: 'http://automation.example:8080',
      },
      tokenSecretName: 'secret',
      taskTableName: 'table',
      taskStateMachineArn: 'arn:aws:states:eu-central-1:1:stateMachine:Task',
      settings: {
        pollIntervalMs: 250,
        pollWindowMs: 0,
        automationTimeoutMs: 60_000,
        claimLeaseMs: 30_000,
        doneSettleMs: 0,
        httpTimeoutMs: 5000,
        searchQuery: '_schema:opportunity',
        searchPageSize: 50,
      },
    });
  });

  it('points all three APIs at EPILOT_API_URL when it is set', () => {
    const config = lambdaConfigFromEnv({
      EPILOT_API_URL: 'https://simulator.test',
      EPILOT_ENTITY_API_URL: 'https://entity.example',
    });

    expect(config.endpoints).toEqual({
      entity: 'https://simulator.test',
      workflow: 'https://simulator.test',
      automation: 'https://simulator.test',
    });
  });

  it('treats empty variables as unset', () => {
    const config = lambdaConfigFromEnv({ POLL_INTERVAL_MS: '', TASK_TABLE_NAME: '', EPILOT_API_URL: '' });

    expect(config.settings.pollIntervalMs).toBe(1000);
    expect(config.taskTableName).toBeUndefined();
    expect(config.endpoints.entity).toBe(EPILOT_PRODUCTION_HOSTS.entity);
  });

  it('ignores variables it does not know', () => {
    expect(() => lambdaConfigFromEnv({ PATH: '/usr/bin', AWS_REGION: 'eu-central-1' })).not.toThrow();
  });

  it.each([
    ['POLL_INTERVAL_MS', 'soon'],
    ['POLL_INTERVAL_MS', '1.5'],
    ['POLL_INTERVAL_MS', '50'],
    ['POLL_WINDOW_MS', '-1'],
    ['AUTOMATION_TIMEOUT_MS', '999'],
    ['CLAIM_LEASE_MS', 'forever'],
    ['DONE_SETTLE_MS', '-5'],
    ['HTTP_TIMEOUT_MS', '999999999'],
    ['SEARCH_PAGE_SIZE', '1001'],
    ['SEARCH_PAGE_SIZE', '0'],
    ['EPILOT_API_URL', 'not a url'],
    ['EPILOT_WORKFLOW_API_URL', 'ftp://workflows.example'],
    ['TASK_STATE_MACHINE_ARN', 'Task'],
  ])('fails naming %s for the bad value %j', (variable, value) => {
    expect(() => lambdaConfigFromEnv({ [variable]: value })).toThrow(variable);
    expect(() => lambdaConfigFromEnv({ [variable]: value })).toThrow(/^Invalid configuration/);
  });

  it('names every bad variable at once', () => {
    expect(() => lambdaConfigFromEnv({ POLL_INTERVAL_MS: 'x', TASK_STATE_MACHINE_ARN: 'y' })).toThrow(
      /POLL_INTERVAL_MS.*TASK_STATE_MACHINE_ARN|TASK_STATE_MACHINE_ARN.*POLL_INTERVAL_MS/,
    );
  });
});

describe('runnerSettings', () => {
  it('fails naming the setting', () => {
    expect(() => runnerSettings({ searchPageSize: 5000 })).toThrow(/setting searchPageSize/);
  });
});

describe('required', () => {
  it('returns a value that is set', () => {
    expect(required('table', 'TASK_TABLE_NAME')).toBe('table');
  });

  it('fails naming the variable when the value is missing', () => {
    expect(() => required(undefined, 'TASK_TABLE_NAME')).toThrow('Missing configuration: TASK_TABLE_NAME must be set');
  });
});
