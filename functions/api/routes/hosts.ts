/** Hosts: register (capacity + order queue and DLQ), read, deregister when empty. */

import type { HostCapacity, HostState } from '../../../core/contracts/host.ts';
import { own } from '../../../core/contracts/keyed.ts';
import { HostName } from '../../../core/contracts/names.ts';
import { hostQueueNames } from '../../../core/contracts/order-queue.ts';
import { AgentHeartbeat, AgentReport } from '../../../core/contracts/report.ts';
import { GSI1_KINDS, keys } from '../../../core/contracts/table-layout.ts';
import { ConflictError, NotFoundError, StaleStateError, ValidationError } from '../../../core/errors.ts';
import { lastSignOfLife } from '../../../core/policy/sanity-findings.ts';
import type { ApiDeps } from '../deps.ts';
import { type Route, route } from '../router.ts';
import { HostDiskInput, HostRegistration } from '../schemas.ts';
import { notAt, sameDoc, stripKeys } from '../store.ts';

export function capacityOf(reg: HostRegistration): HostCapacity {
  const topology =
    reg.cpu.topology ??
    Array.from({ length: reg.cpu.cores ?? 0 }, (_, i) => ({ id: String(i), socket: 0, core: i }));
  const shares = topology.length * 100;
  return {
    cpu: {
      max: shares,
      free: shares,
      topology,
      cores: Object.fromEntries(topology.map((t) => [t.id, { free: 100, alloc: {} }])),
    },
    mem: { max: reg.memMiB, free: reg.memMiB },
    disks: Object.fromEntries(
      Object.entries(reg.disks).map(([name, d]) => [
        name,
        {
          path: d.path,
          device: d.device,
          maxRead: d.readMiBps,
          freeRead: d.readMiBps,
          maxWrite: d.writeMiBps,
          freeWrite: d.writeMiBps,
        },
      ]),
    ),
    net: reg.netMbps === null ? null : { max: reg.netMbps, free: reg.netMbps },
  };
}

export function hostSummary(h: HostState) {
  return {
    name: h.name,
    version: h.version,
    cpuPlacement: h.cpuPlacement,
    cpu: { max: h.capacity.cpu.max, free: h.capacity.cpu.free, cores: h.capacity.cpu.topology.length },
    mem: h.capacity.mem,
    disks: Object.fromEntries(
      Object.entries(h.capacity.disks).map(([n, d]) => [
        n,
        { maxRead: d.maxRead, freeRead: d.freeRead, maxWrite: d.maxWrite, freeWrite: d.freeWrite },
      ]),
    ),
    net: h.capacity.net,
    containers: Object.keys(h.containers).sort(),
    degraded: h.degraded,
  };
}

export function hostRoutes(deps: ApiDeps): Route[] {
  const { store, queues } = deps;

  /**
   * SQS queue names cannot hold '.', so `a.b` and `a_b` map to one order queue: the two agents
   * would take (and drop as another host's) each other's orders, and deregistering one would
   * delete the other's queue. A new host must not share a registered host's queue.
   */
  async function refuseSharedQueue(name: string): Promise<void> {
    const queue = hostQueueNames(name).queue;
    const other = (await store.listNames(GSI1_KINDS.hosts)).find(
      (h) => h !== name && hostQueueNames(h).queue === queue,
    );
    if (other !== undefined)
      throw new ConflictError(
        `host ${name} would share its order queue with host ${other} (queue names turn "." into "_"); register it under another name`,
        { context: { field: 'host' } },
      );
  }

  return [
    route({
      method: 'GET',
      path: '/hosts',
      tag: 'hosts',
      summary: 'List hosts with their capacity and free resources',
      async handle() {
        const hosts = await store.hosts.getMany(await store.listNames(GSI1_KINDS.hosts));
        return { status: 200, body: hosts.map(hostSummary) };
      },
    }),
    route({
      method: 'GET',
      path: '/hosts/{host}',
      tag: 'hosts',
      summary:
        "A host's state (capacity, core map, containers' desired state), its agent's heartbeat, and when the agent was last heard from (heartbeat or report)",
      async handle({ params }) {
        const host = await store.hosts.require(params.host as string);
        // AGENT and APPLIED#<container> in one Query: the agent skips heartbeats while its reports
        // land, so its last sign of life is the newer of the two (as the sanity sweep reads it).
        const items = await store.table.queryPartition(keys.hostPartition(host.name), { skPrefix: 'A' });
        const agentItem = items.find((i) => i.sk === keys.agent(host.name).sk);
        const agent =
          agentItem === undefined ? null : (AgentHeartbeat.safeParse(stripKeys(agentItem)).data ?? null);
        const reports = items.flatMap((i) => {
          const r = AgentReport.safeParse(stripKeys(i));
          return r.success && r.data.host === host.name ? [r.data] : [];
        });
        const agentSeenAt = lastSignOfLife(agent, reports)?.at ?? null;
        return { status: 200, body: { ...host, agent, agentSeenAt } };
      },
    }),
    route({
      method: 'PUT',
      path: '/hosts/{host}',
      tag: 'hosts',
      summary:
        'Register a host (creates its order queue and DLQ), or change the capacity of a host without containers; repeating it is a no-op',
      body: HostRegistration,
      ok: 201,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.host as string;
        const capacity = capacityOf(body);
        for (let attempt = 0; attempt < 3; attempt++) {
          const existing = await store.hosts.get(name);
          if (existing === null) {
            if (ifMatch !== null) throw notAt(`host ${name}`, ifMatch);
            await refuseSharedQueue(name);
            const { queueUrl } = await queues.ensure(name);
            try {
              const created = await store.hosts.create(name, {
                name,
                version: 1,
                cpuPlacement: body.cpuPlacement,
                capacity,
                containers: {},
                degraded: false,
                queueUrl,
              });
              return { status: 201, body: created };
            } catch (err) {
              if (err instanceof StaleStateError) continue; // registered concurrently: compare below
              throw err;
            }
          }
          const updated = await store.hosts.update(
            name,
            async (h) => {
              // What a registration states is the host's shape; its free capacity is the containers'.
              const reshaped =
                !sameDoc(shapeOf(h.capacity), shapeOf(capacity)) || h.cpuPlacement !== body.cpuPlacement;
              if (!reshaped && h.queueUrl !== null) return h;
              if (Object.keys(h.containers).length > 0 && reshaped)
                throw new ConflictError(
                  `host ${name} has containers (${Object.keys(h.containers).join(', ')}); unsubscribe them before changing its capacity or CPU placement`,
                  { context: { field: 'host' } },
                );
              const queueUrl = h.queueUrl ?? (await queues.ensure(name)).queueUrl;
              return { ...h, capacity, cpuPlacement: body.cpuPlacement, queueUrl };
            },
            ifMatch,
          );
          return { status: 200, body: updated };
        }
        throw new ConflictError(`host ${name} changed concurrently`);
      },
    }),
    route({
      method: 'GET',
      path: '/hosts/{host}/agent',
      tag: 'hosts',
      summary:
        "The heartbeat of the host's agent with the topology it found at start (sockets, cores, SMT siblings, memory, disks); there before the host is registered, for `sc host add --from-agent`",
      async handle({ params }) {
        const parsed = HostName.safeParse(params.host);
        if (!parsed.success)
          throw new ValidationError('host', [{ path: 'host', message: 'not a host name' }]);
        const name = parsed.data;
        const item = await store.table.get(keys.agent(name));
        const agent = item === null ? null : (AgentHeartbeat.safeParse(stripKeys(item)).data ?? null);
        if (agent === null) throw new NotFoundError(`no agent of host ${name} has reported yet`);
        return { status: 200, body: agent };
      },
    }),
    route({
      method: 'PUT',
      path: '/hosts/{host}/disks/{disk}',
      tag: 'hosts',
      summary: "Add a disk to a host, or change a disk's bandwidth keeping what its containers hold",
      body: HostDiskInput,
      ifMatch: true,
      async handle({ params, body, ifMatch }) {
        const name = params.host as string;
        const disk = params.disk as string;
        const updated = await store.hosts.update(
          name,
          (h) => {
            const old = own(h.capacity.disks, disk);
            const usedRead = old === undefined ? 0 : old.maxRead - old.freeRead;
            const usedWrite = old === undefined ? 0 : old.maxWrite - old.freeWrite;
            if (body.readMiBps < usedRead)
              throw new ValidationError('body', [
                { path: 'readMiBps', message: `must be ≥ the ${usedRead} MiB/s its containers hold` },
              ]);
            if (body.writeMiBps < usedWrite)
              throw new ValidationError('body', [
                { path: 'writeMiBps', message: `must be ≥ the ${usedWrite} MiB/s its containers hold` },
              ]);
            h.capacity.disks[disk] = {
              path: body.path,
              device: body.device,
              maxRead: body.readMiBps,
              freeRead: body.readMiBps - usedRead,
              maxWrite: body.writeMiBps,
              freeWrite: body.writeMiBps - usedWrite,
            };
            return h;
          },
          ifMatch,
        );
        return { status: 200, body: own(updated.capacity.disks, disk) };
      },
    }),
    route({
      method: 'DELETE',
      path: '/hosts/{host}',
      tag: 'hosts',
      summary: 'Deregister an empty host and delete its queues',
      ifMatch: true,
      async handle({ params, ifMatch }) {
        const name = params.host as string;
        const host = await store.hosts.requireAt(name, ifMatch);
        const held = Object.keys(host.containers);
        if (held.length > 0)
          throw new ConflictError(
            `host ${name} still has containers: ${held.join(', ')}; unsubscribe them first`,
            {
              context: { field: 'host' },
            },
          );
        await store.hosts.remove(name, host.version);
        await queues.remove(name);
        return { status: 200, body: { deleted: name } };
      },
    }),
  ];
}

/** The totals a registration states (no free amounts, no allocations): a repeat of it is a no-op. */
function shapeOf(c: HostState['capacity']) {
  return {
    cpu: { max: c.cpu.max, topology: c.cpu.topology },
    mem: c.mem.max,
    net: c.net?.max ?? null,
    disks: Object.entries(c.disks)
      .map(([name, d]) => [name, d.path, d.device, d.maxRead, d.maxWrite])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  };
}
