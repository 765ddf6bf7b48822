import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { OPEN_INDEX_KEY, OPEN_RECORDS_INDEX } from '../../lambdas/shared/records/task-records';

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
    this.table.addGlobalSecondaryIndex({
      indexName: OPEN_RECORDS_INDEX,
      partitionKey: { name: OPEN_INDEX_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'leaseUntil', type: dynamodb.AttributeType.NUMBER },
    });
  }

  /** The sweep finds what dead executions left behind through the open-records index. */
  grantAbandonedRecordQuery(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${OPEN_RECORDS_INDEX}`],
    });
  }

  /** Records are read and replaced conditionally; nothing else is needed. */
  grantRecordAccess(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resourceArns: [this.table.tableArn] });
  }
}
