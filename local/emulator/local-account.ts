/** The account, region and partition every local ARN, table and Context Object pretends to live in. */
export const LOCAL_REGION = 'eu-central-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_PARTITION = 'aws';
export const LOCAL_URL_SUFFIX = 'amazonaws.com';
