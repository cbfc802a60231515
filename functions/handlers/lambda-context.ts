/** The part of the Lambda context the scheduled handlers use. */
export interface LambdaContextLike {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}
