/**
 * The latency model of the in-memory transport that the bench's simulation sets (docs/architecture.md,
 * "Scaling limits"): a delivery takes what `delayMs` says, an ack what the origin's `ackDelayMs` says,
 * and neither hook is consulted when unset (the replicator's tests keep their timing).
 */
import { MemoryStore, MemoryTransport } from '@authcache/testkit';

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

/** A frame long enough to carry a seq (the store writes it at FRAME_SEQ_OFFSET). */
const frame = () => Buffer.alloc(64, 1);

async function pair() {
  const store = new MemoryStore(100, () => Date.now());
  const peers = new Map<string, MemoryTransport>();
  const a = new MemoryTransport(store, 'a', peers);
  const b = new MemoryTransport(store, 'b', peers);
  const seen = { updates: [] as number[], acks: [] as number[] };
  await a.start({ onUpdate: () => undefined, onAck: () => void seen.acks.push(Date.now()), onReconnect: () => undefined });
  await b.start({ onUpdate: () => void seen.updates.push(Date.now()), onAck: () => undefined, onReconnect: () => undefined });
  return { store, a, b, seen };
}

describe('MemoryTransport latency hooks', () => {
  it('delays each update delivery by delayMs, in place of maxDelayMs', async () => {
    const { a, b, seen } = await pair();
    b.chaos = { maxDelayMs: 1, delayMs: () => 7 };
    await a.publish(frame(), []);
    await jest.advanceTimersByTimeAsync(6);
    expect(seen.updates).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(seen.updates).toEqual([7]);
  });

  it("delays an ack by the origin's ackDelayMs, after the sender's command latency", async () => {
    const { a, b, seen } = await pair();
    a.chaos = { ackDelayMs: () => 3 };
    b.latencyMs = 2;
    const sent = b.sendAck('a', frame());
    await jest.advanceTimersByTimeAsync(2);
    await sent;
    await jest.advanceTimersByTimeAsync(2);
    expect(seen.acks).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(seen.acks).toEqual([5]);
  });

  it('without the hooks, an ack arrives at once and a delivery within maxDelayMs', async () => {
    const { a, b, seen } = await pair();
    b.chaos = { maxDelayMs: 4, random: () => 0.5 };
    await a.publish(frame(), []);
    await b.sendAck('a', frame());
    await jest.advanceTimersByTimeAsync(0);
    expect(seen.acks).toEqual([0]);
    await jest.advanceTimersByTimeAsync(2);
    expect(seen.updates).toEqual([2]);
  });
});
