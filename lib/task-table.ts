import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * One record per workflow task (keyed by workflow execution and task id). Records decide whether an automation was
 * started, so the table is retained on stack deletion and recoverable to any point in time.
 */
export class TaskTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Housekeeping only: every expiry the runner relies on is checked in condition expressions.
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Records are read and replaced conditionally; nothing else is needed. */
  grantRecordAccess(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem');
  }
}
