// A sample of what the keyed-access rule refuses (read by keyed-access.test.ts; never run).
const disks: Record<string, number> = { ssd: 1 };
const resources: Record<'cpu' | 'mem', number> = { cpu: 1, mem: 2 };
const list = [1, 2];
export function probe(name: string, i: number): unknown {
  return [disks[name], name in disks, resources.cpu, list[i], name[0]];
}
