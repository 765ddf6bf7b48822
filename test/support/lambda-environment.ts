/**
 * The Lambda environment of the tests, written once: the jest setup file (this module, see jest.config.js) applies
 * it to process.env before any Lambda entry module is loaded (they read their configuration when loaded), and
 * handler tests import the same values (through handler-test-kit) to assert against.
 * Values already in the environment win, so a developer can point a run elsewhere.
 */
export const TEST_LAMBDA_ENVIRONMENT = {
  EPILOT_API_URL: 'https://epilot.test',
  EPILOT_TOKEN_SECRET_NAME: 'epilot-task-runner/api-token',
  WEBHOOK_SECRET_NAME: 'epilot-task-runner/webhook-secret',
  TASK_TABLE_NAME: 'task-records',
  TASK_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:123456789012:stateMachine:Task',
  POLL_INTERVAL_MS: '100',
  POLL_WINDOW_MS: '0',
  AUTOMATION_TIMEOUT_MS: '5000',
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
} as const;

for (const [name, value] of Object.entries(TEST_LAMBDA_ENVIRONMENT)) process.env[name] ??= value;
