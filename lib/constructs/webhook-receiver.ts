import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { WEBHOOK_FUNCTION } from '../../lambdas/states';
import { type NeedBindings, RunnerFunction } from './runner-function';

/**
 * epilot's push trigger: a Lambda Function URL (auth NONE — the Standard Webhooks signature is the authentication,
 * checked before the body is parsed) that detects automation tasks on the delivered entity and starts task
 * executions, exactly as the sweep does.
 */
export class WebhookReceiver extends Construct {
  readonly function: RunnerFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: { bindings: NeedBindings }) {
    super(scope, id);
    this.function = new RunnerFunction(this, WEBHOOK_FUNCTION, props.bindings);
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }
}
