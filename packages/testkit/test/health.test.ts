/**
 * healthyAs (src/health.ts): startNode waits for GET /health 200 from the node it started, not from
 * whoever holds the port (another suite's node took a port freePort() had just found free: the
 * new node died with EADDRINUSE while the other answered its health probes).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { healthyAs } from '../src/health';

let server: Server;
let url: string;
let answer: { status: number; body: string } = { status: 200, body: '' };

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('is true only for a 200 from the node asked for (or from a server that names no node)', async () => {
  answer = { status: 200, body: JSON.stringify({ status: 'UP', node: 'node-1' }) };
  expect(await healthyAs(url, 'node-1')).toBe(true);
  expect(await healthyAs(url, 'node-2')).toBe(false);
  answer = { status: 503, body: JSON.stringify({ status: 'DEGRADED', node: 'node-1' }) };
  expect(await healthyAs(url, 'node-1')).toBe(false);
  answer = { status: 200, body: 'not json' };
  expect(await healthyAs(url, 'node-1')).toBe(true);
});

it('rejects when nothing listens, so that waitFor keeps trying', async () => {
  await expect(healthyAs('http://127.0.0.1:1', 'node-1')).rejects.toThrow();
});
