import { Limiter } from '../src/roles/limiter';
import { deferred, drain } from './fakes';

describe('Limiter', () => {
  it('runs at most `limit` tasks at once and the rest in arrival order', async () => {
    const l = new Limiter(2);
    const gates = [deferred<void>(), deferred<void>(), deferred<void>(), deferred<void>()];
    const started: number[] = [];
    let peak = 0;
    const runs = gates.map((g, i) =>
      l.run(async () => {
        started.push(i);
        peak = Math.max(peak, l.active);
        await g.promise;
        return i;
      }),
    );
    await drain();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await drain();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect(l.active).toBe(0);
  });

  it('a newcomer cannot take the slot a finishing task hands to a waiter', async () => {
    const l = new Limiter(1);
    const first = deferred<void>();
    let concurrent = 0;
    let peak = 0;
    const task = (gate?: Promise<void>) =>
      l.run(async () => {
        peak = Math.max(peak, ++concurrent);
        await gate;
        concurrent--;
      });
    const a = task(first.promise);
    const b = task();
    await drain();
    first.resolve();
    const c = task(); // arrives while the slot passes from a to b
    await Promise.all([a, b, c]);
    expect(peak).toBe(1);
  });

  it('a failing task frees its slot', async () => {
    const l = new Limiter(1);
    await expect(l.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(l.run(async () => 'next')).resolves.toBe('next');
    expect(l.active).toBe(0);
  });
});
