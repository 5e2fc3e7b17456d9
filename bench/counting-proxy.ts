// The counting TCP proxy's own process (started by countingProxy in support.ts): forwards loopback connections
// to argv[2]:argv[3] and counts the bytes each way; "take" over IPC answers the counts and resets them.
import { createConnection, createServer } from 'node:net';

export interface ProxyCounts {
  up: number;
  down: number;
  total: number;
  connections: number;
}

if (process.send) {
  const [host, port] = process.argv.slice(2);
  let up = 0;
  let down = 0;
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: host!, port: Number(port) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      up += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', () => {
    process.send!({ up, down, total: up + down, connections } satisfies ProxyCounts);
    up = down = connections = 0;
  });
  process.on('disconnect', () => process.exit(0));
}
