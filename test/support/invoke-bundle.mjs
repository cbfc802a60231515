// Invokes one packaged handler as Lambda would, in one execution environment:
// `node invoke-bundle.mjs <handler file> <export> <events JSON array> <timeout ms per event>`.
// The module is imported once in this process (its clients are built at import, from the environment)
// and each event is one invocation; an event `{ "$clockMessageFrom": <queue URL> }` is the next message
// of that SQS queue as the event source mapping would deliver it (the control tick's clock chain).
// Prints the results as one JSON line, then exits (as the environment is frozen after an invocation),
// so a client left open cannot hang the test.
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const [file, name, eventsJson, timeoutMs] = process.argv.slice(2);
const mod = await import(file);

async function clockEvent(queueUrl) {
  const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS, useQueueUrlAsEndpoint: false });
  try {
    for (let i = 0; i < 5; i++) {
      const got = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 1 }),
      );
      const m = got.Messages?.[0];
      if (m !== undefined) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        return { Records: [{ body: m.Body, eventSource: 'aws:sqs' }] };
      }
    }
    throw new Error(`no message on ${queueUrl}`);
  } finally {
    sqs.destroy();
  }
}

let invocations = 0;

async function invoke(event) {
  const deadline = Date.now() + Number(timeoutMs);
  const context = {
    awsRequestId: `req-${process.pid}-${++invocations}`,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bundle',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:bundle`,
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/bundle',
    logStreamName: 'bundle',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  return (await mod[name](event, context)) ?? null;
}

try {
  const outs = [];
  for (const e of JSON.parse(eventsJson)) {
    outs.push(await invoke(e?.$clockMessageFrom === undefined ? e : await clockEvent(e.$clockMessageFrom)));
  }
  process.stdout.write(`${JSON.stringify({ ok: true, outs })}\n`);
  process.exit(0);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(err?.stack ?? err) })}\n`);
  process.exit(0);
}
