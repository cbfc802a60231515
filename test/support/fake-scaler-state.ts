/** In-memory fakes of the Scaler's ports, with the same conditional-write semantics as the table. */
import type { Activity } from '../../core/contracts/activity.ts';
import type { HostState } from '../../core/contracts/host.ts';
import type { ScaleOrder } from '../../core/contracts/order.ts';
import type { Application } from '../../core/contracts/structure.ts';
import { StaleStateError } from '../../core/errors.ts';
import type { ActivityLog, LaggingState, OrderSender, PlannerState } from '../../functions/scaler/ports.ts';

export class FakeScalerState implements PlannerState, ActivityLog, LaggingState {
  readonly hosts = new Map<string, HostState>();
  readonly locators = new Map<string, string>();
  readonly applications = new Map<string, Application>();
  readonly applied = new Map<string, number>();
  readonly activity: Activity[] = [];
  commits = 0;
  /** Called before each commit: lets a test change the stored host to lose a race. */
  beforeCommit: ((host: string) => void) | null = null;

  putHost(h: HostState): void {
    this.hosts.set(h.name, structuredClone(h));
    for (const c of Object.keys(h.containers)) this.locators.set(c, h.name);
  }
  async getHost(name: string) {
    const h = this.hosts.get(name);
    return h === undefined ? null : structuredClone(h);
  }
  async locateContainer(name: string) {
    return this.locators.get(name) ?? null;
  }
  async getApplication(name: string) {
    return this.applications.get(name) ?? null;
  }
  async commitHost(next: HostState, expectedVersion: number) {
    this.beforeCommit?.(next.name);
    const stored = this.hosts.get(next.name);
    if (stored === undefined || stored.version !== expectedVersion)
      throw new StaleStateError(
        `host ${next.name} changed concurrently`,
        stored === undefined ? null : structuredClone(stored),
      );
    this.commits += 1;
    this.hosts.set(next.name, structuredClone(next));
  }
  async recordActivity(lines: readonly { activity: Activity; seq: string }[]) {
    this.activity.push(...lines.map((l) => l.activity));
  }
  async listHosts() {
    return [...this.hosts.keys()];
  }
  async getHostWithApplied(name: string) {
    const host = await this.getHost(name);
    return host === null ? null : { host, applied: new Map(this.applied) };
  }
}

export class FakeOrderSender implements OrderSender {
  readonly sent: { queueUrl: string; order: ScaleOrder }[] = [];
  failing = false;
  async send(queueUrl: string, orders: readonly ScaleOrder[]) {
    if (this.failing) return { sent: 0, failed: orders.length };
    for (const order of orders) this.sent.push({ queueUrl, order });
    return { sent: orders.length, failed: 0 };
  }
}
