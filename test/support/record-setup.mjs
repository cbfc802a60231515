// The host project's global setup: record the deployables' AWS calls (test/support/aws-call-record.ts).
import { startRecording } from './aws-call-record.ts';

export default async function recordSetup() {
  globalThis.__scAwsCalls = startRecording('host');
}
