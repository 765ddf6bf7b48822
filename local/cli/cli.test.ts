import { EpilotAuthError, EpilotPermanentError, EpilotRateLimitedError } from '../../lambdas/shared/errors';
import { explainFailure } from './cli';

describe('explainFailure', () => {
  it('explains a 401 (EpilotAuthError) in one line naming the refused call and the token options to check', () => {
    const { message, exitCode } = explainFailure(
      new EpilotAuthError('searchEntities (POST /v1/entity:search) answered 401: Unauthorized', 401),
    );

    expect(exitCode).toBe(1);
    expect(message).toBe(
      'epilot rejected the API token (401): searchEntities (POST /v1/entity:search) answered 401: Unauthorized. ' +
        'Check --token / $EPILOT_API_TOKEN (or the secret)',
    );
  });

  it("explains a 403 (EpilotAuthError) as a token that may not make the named call, pointing at the token's permissions", () => {
    const { message, exitCode } = explainFailure(
      new EpilotAuthError('startExecution (POST /v1/automation/executions) answered 403: Forbidden', 403),
    );

    expect(exitCode).toBe(1);
    expect(message).toMatch(/^the API token may not do this \(403\): startExecution \(POST \/v1\/automation\/executions\) answered 403/);
    expect(message).toMatch(/Check the token's permissions$/);
  });

  it('explains a rate limit that outlasted the retries as a failed sweep naming the call', () => {
    const { message } = explainFailure(new EpilotRateLimitedError('getExecution (GET /v1/workflows/executions/wf-1) answered 429', 20_000));

    expect(message).toBe('the sweep failed: getExecution (GET /v1/workflows/executions/wf-1) answered 429');
  });

  it('keeps explaining other refusals (EpilotPermanentError) as a failed sweep', () => {
    expect(explainFailure(new EpilotPermanentError('getExecution answered 404', 404)).message).toBe(
      'the sweep failed: getExecution answered 404',
    );
  });
});
