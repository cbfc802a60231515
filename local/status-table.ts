/**
 * The live status table `npm start` shows: one line per guarded container with
 * CPU (shares) and memory (MiB) as usage / desired / applied (cgroup) / max,
 * and the last decision. Pure: rows in, lines out.
 */
import type { StatusRow } from './loop.ts';

const fmt = (v: number | null): string => (v === null ? '-' : String(Math.round(v)));

function cell(r: StatusRow['cpu']): string {
  return `${fmt(r.usage)}/${fmt(r.current)}/${fmt(r.applied)}/${fmt(r.max)}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

export function statusLines(rows: readonly StatusRow[], header: string, width = 120): string[] {
  const name = Math.max(9, ...rows.map((r) => r.container.length));
  const lines = [
    header,
    `${pad('container', name)}  ${pad('cpu use/want/cgroup/max', 24)}  ${pad('mem MiB use/want/cgroup/max', 28)}  last decision`,
  ];
  if (rows.length === 0) lines.push('(no container guarded yet)');
  for (const r of rows) {
    const line = `${pad(r.container, name)}  ${pad(cell(r.cpu), 24)}  ${pad(cell(r.mem), 28)}  ${r.lastDecision ?? '-'}`;
    lines.push(line.length > width ? `${line.slice(0, width - 1)}…` : line);
  }
  return lines;
}
