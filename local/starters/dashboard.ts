/** The operator dashboard over the loop's table and its metrics store (prometheusSeries). */
import type { TableClient } from '../../adapters/dynamodb/table-client.ts';
import type { SeriesSource } from '../../dashboard/read-model.ts';
import { type DashboardServer, startDashboardServer } from '../../dashboard/server.ts';
import type { Stops } from './local.ts';

export async function startDashboard(o: {
  table: TableClient;
  series: SeriesSource;
  say: (line: string) => void;
  stops: Stops;
}): Promise<DashboardServer> {
  const dashboard = await startDashboardServer({ deps: { state: o.table, series: o.series } });
  o.stops.push({ what: 'dashboard', stop: () => dashboard.close() });
  o.say(`dashboard   ${dashboard.url}`);
  return dashboard;
}
