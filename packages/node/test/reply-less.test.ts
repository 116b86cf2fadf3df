/**
 * Reply-less acks (bus/reply-less.ts) against a real Redis: Redis answers neither command, the
 * subscriber gets every message byte for byte, ioredis keeps pairing replies with its own
 * commands while both kinds interleave, and a user whose ACL forbids CLIENT is never sent one.
 */
import Redis from 'ioredis';
import { startRedis, type RedisHandle } from '@authcache/testkit';
import { ReplyLessPublisher, replyLessPublishCommand } from '../src/bus/reply-less';

const calls = async (conn: Redis, cmd: string) => Number(new RegExp(`cmdstat_${cmd.replace('|', '\\|')}:calls=(\\d+)`).exec(await conn.info('commandstats'))?.[1] ?? 0);

describe('reply-less PUBLISH', () => {
  let redis: RedisHandle;
  const conns: Redis[] = [];
  const connect = async (opts: { username?: string; password?: string } = {}) => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 1, ...opts });
    conns.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('ready', resolve);
      c.once('error', reject);
    });
    return c;
  };
  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await redis?.stop();
  });

  it('encodes CLIENT REPLY SKIP and PUBLISH as RESP, binary-safe', () => {
    const msg = Buffer.from([0x0d, 0x0a, 0x00, 0xff]);
    const out = replyLessPublishCommand(Buffer.from('ch'), msg);
    expect(out.toString('latin1')).toBe('*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n' + '*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$4\r\n\r\n\u0000\u00ff\r\n');
  });

  it('delivers every message while the connection keeps answering its own commands in order', async () => {
    const cmd = await connect();
    const sub = await connect();
    const admin = await connect();
    const got: Buffer[] = [];
    sub.on('messageBuffer', (_ch: Buffer, m: Buffer) => got.push(m));
    await sub.subscribe('rl:acks');
    const p = new ReplyLessPublisher(cmd);
    expect(await p.probe()).toBe(true);
    const [skips0, pubs0] = [await calls(admin, 'client|reply'), await calls(admin, 'publish')];
    const n = 300;
    const sent: Buffer[] = [];
    const replies: Array<Promise<number>> = [];
    for (let i = 0; i < n; i++) {
      // Frames with CR LF and NUL inside, of varying length.
      const m = Buffer.concat([Buffer.from(`ack-${i}\r\n`), Buffer.alloc(i % 17, 0)]);
      sent.push(m);
      replies.push(cmd.incr('rl:counter'));
      expect(p.tryPublish('rl:acks', m)).toBe(true);
      if (i % 3 === 0) replies.push(cmd.incr('rl:counter'));
    }
    // Each INCR got its own answer: nothing from the reply-less commands slipped in between.
    const values = await Promise.all(replies);
    expect(values).toEqual(values.map((_, i) => i + 1));
    const t0 = Date.now();
    while (got.length < n && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(sent);
    expect((await calls(admin, 'client|reply')) - skips0).toBeGreaterThanOrEqual(n);
    expect((await calls(admin, 'publish')) - pubs0).toBe(n);
    expect(await cmd.ping()).toBe('PONG');
  });

  it('is off for a user whose ACL forbids CLIENT, so no answer can reach ioredis unasked', async () => {
    const admin = await connect();
    await admin.call('ACL', 'SETUSER', 'noclient', 'on', '>noclient-pw', '~*', '&*', '+@all', '-client');
    const cmd = await connect({ username: 'noclient', password: 'noclient-pw' });
    const p = new ReplyLessPublisher(cmd);
    expect(await p.probe()).toBe(false);
    expect(p.tryPublish('rl:acks', Buffer.from('x'))).toBe(false);
    expect(await cmd.incr('rl:other')).toBe(1);
  });

  it('is off until probed, and again once its connection closes', async () => {
    const cmd = await connect();
    const p = new ReplyLessPublisher(cmd);
    expect(p.tryPublish('rl:acks', Buffer.from('x'))).toBe(false);
    expect(await p.probe()).toBe(true);
    p.disable();
    expect(p.tryPublish('rl:acks', Buffer.from('x'))).toBe(false);
    await p.probe();
    cmd.disconnect();
    expect(p.tryPublish('rl:acks', Buffer.from('x'))).toBe(false);
  });
});
