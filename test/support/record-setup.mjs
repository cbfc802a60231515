// The host project's global setup: record the deployables' AWS calls (test/support/aws-call-record.ts).
import { startRecording } from './aws-call-record.ts';

export default async function recordSetup() {
  // In a run of several projects the integration project's setup may already record (one file
  // for the whole run): keep its file, or its teardown finds nothing to check.
  globalThis.__scAwsCalls ??= startRecording('host');
}
