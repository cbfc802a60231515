export default async function globalTeardown() {
  await Promise.all((globalThis.__scEmulators ?? []).map((e) => e.stop()));
  globalThis.__scEmulators = undefined;
}
