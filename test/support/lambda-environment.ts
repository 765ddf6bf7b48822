// Lambda entry modules read their configuration when loaded; handler tests load them with this environment.
process.env.EPILOT_API_URL ??= 'https://epilot.test';
process.env.EPILOT_TOKEN_SECRET_NAME ??= 'epilot-task-runner/api-token';
process.env.EPILOT_WEBHOOK_SECRET_NAME ??= 'epilot-task-runner/webhook-secret';
process.env.TASK_TABLE_NAME ??= 'task-records';
process.env.TASK_STATE_MACHINE_ARN ??= 'arn:aws:states:eu-central-1:123456789012:stateMachine:Task';
process.env.POLL_INTERVAL_MS ??= '100';
process.env.POLL_WINDOW_MS ??= '0';
process.env.AUTOMATION_TIMEOUT_MS ??= '5000';
process.env.AWS_REGION ??= 'eu-central-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
export {};
