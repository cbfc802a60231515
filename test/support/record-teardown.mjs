import { finishRecording } from './aws-call-record.ts';

export default async function recordTeardown() {
  const file = globalThis.__scAwsCalls ?? null;
  globalThis.__scAwsCalls = undefined;
  finishRecording(file);
}
