import { createServer } from 'node:net';

// Ports handed out recently by this process: two callers asking at the same time (startCluster) must not
// get the same port just because the first has not bound it yet.
const handedOut = new Set<number>();

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await askKernel();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (handedOut.size > 1000) handedOut.delete(handedOut.values().next().value as number);
    return port;
  }
  throw new Error('freePort: the kernel kept offering ports already handed out');
}

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** Whether something already listens on host:port (used to name a taken port before starting). */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
