/**
 * A TCP proxy on 127.0.0.1 in front of an emulator that a test can take down
 * (new and open connections are cut) and bring back, to play "DynamoDB or SQS
 * unreachable" without losing the emulator's state.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

export interface FlakyProxy {
  endpoint: string;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const t = new URL(target);
  let isDown = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: t.hostname, port: Number(t.port) });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    down() {
      isDown = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
