import { finishRecording } from './aws-call-record.ts';

export default async function globalTeardown() {
  await Promise.all((globalThis.__scEmulators ?? []).map((e) => e.stop()));
  globalThis.__scEmulators = undefined;
  const file = globalThis.__scAwsCalls ?? null;
  globalThis.__scAwsCalls = undefined;
  finishRecording(file);
}
