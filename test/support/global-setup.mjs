// Starts the emulators once for the integration project and publishes their
// endpoints to the test workers through the environment (read by env.ts).
// Plain JS loaded natively by Node (which strips the types of emulators.ts),
// because jest's global-setup transform cannot load ESM-only packages.
import {
  startDynalite,
  startDynamoDbLocal,
  startFauxqs,
  startVictoriaMetrics,
} from '../../local/emulators.ts';
import { startRecording } from './aws-call-record.ts';

export default async function globalSetup() {
  // The deployables' AWS calls, checked against test/fixtures/aws-calls.jsonl at teardown.
  globalThis.__scAwsCalls ??= startRecording('integration');
  // `npm run test:localstack` points DynamoDB (both "flavours") and SQS at LocalStack instead.
  const localstack = process.env.SC_TEST_LOCALSTACK;
  if (localstack) {
    const vm = await startVictoriaMetrics();
    globalThis.__scEmulators = [vm];
    publish({ dynalite: localstack, ddbLocal: localstack, sqs: localstack, vm });
    return;
  }
  const [dynalite, ddbLocal, sqs, vm] = await Promise.all([
    startDynalite(),
    startDynamoDbLocal(),
    startFauxqs(),
    startVictoriaMetrics(),
  ]);
  globalThis.__scEmulators = [dynalite, ddbLocal, sqs, vm];
  publish({ dynalite: dynalite.endpoint, ddbLocal: ddbLocal.endpoint, sqs: sqs.endpoint, vm });
}

function publish({ dynalite, ddbLocal, sqs, vm }) {
  Object.assign(process.env, {
    SC_TEST_DYNALITE: dynalite,
    SC_TEST_DYNAMODB_LOCAL: ddbLocal,
    SC_TEST_SQS: sqs,
    SC_TEST_VM_PROM: vm.promUrl,
    SC_TEST_VM_OPENTSDB: vm.opentsdbUrl,
    AWS_REGION: process.env.AWS_REGION || 'us-east-1',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || 'local',
  });
}
