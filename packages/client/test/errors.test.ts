import {
  AuthcacheClient,
  AuthcacheError,
  BadRequestError,
  ConnectionError,
  ForbiddenError,
  HttpError,
  InvalidCredentialsError,
  InvalidResponseError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
} from '@authcache/client';
import { parseRetryAfter } from '../src/errors';
import { type FakeNode, closedPortUrl, startFakeNode } from './fake-node';

const PASSWORD = 'hunter2-do-not-leak';

describe('error types per status', () => {
  let fake: FakeNode;
  let client: AuthcacheClient;
  beforeEach(async () => {
    fake = await startFakeNode();
    client = new AuthcacheClient({ nodes: fake.url, token: 't' });
  });
  afterEach(() => fake.close());

  async function failure(status: number, call: () => Promise<unknown>, headers?: Record<string, string>) {
    fake.setHandler(() => ({ status, body: { error: `status ${status} said so` }, ...(headers ? { headers } : {}) }));
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toBeInstanceOf(AuthcacheError);
    expect(err).toBeInstanceOf(Error);
    const h = err as HttpError;
    expect(h.status).toBe(status);
    expect(h.node).toBe(fake.url);
    expect(h.body).toEqual({ error: `status ${status} said so` });
    expect(h.message).toBe(`status ${status} said so`);
    return h;
  }

  test('401 on login and authinfo is InvalidCredentialsError', async () => {
    const e1 = await failure(401, () => client.login('alice', PASSWORD));
    expect(e1).toBeInstanceOf(InvalidCredentialsError);
    expect(e1.name).toBe('InvalidCredentialsError');
    expect(await failure(401, () => client.authinfo('alice', PASSWORD))).toBeInstanceOf(InvalidCredentialsError);
  });

  test('401 on an admin route is UnauthorizedError, not InvalidCredentialsError', async () => {
    const e = await failure(401, () => client.flushAll());
    expect(e).toBeInstanceOf(UnauthorizedError);
    expect(e).not.toBeInstanceOf(InvalidCredentialsError);
  });

  test('403 is ForbiddenError', async () => {
    expect(await failure(403, () => client.putSettings({ ttl_ms: 1 }))).toBeInstanceOf(ForbiddenError);
  });

  test('404 is NotFoundError', async () => {
    expect(await failure(404, () => client.getRole('ghost'))).toBeInstanceOf(NotFoundError);
    expect(await failure(404, () => client.dropRole('ghost'))).toBeInstanceOf(NotFoundError);
  });

  test('400, 413 and 415 are BadRequestError', async () => {
    for (const s of [400, 413, 415]) {
      expect(await failure(s, () => client.login('alice', PASSWORD))).toBeInstanceOf(BadRequestError);
    }
  });

  test('429 is TooManyRequestsError with Retry-After in seconds', async () => {
    const e = await failure(429, () => client.login('alice', PASSWORD), { 'retry-after': '17' });
    expect(e).toBeInstanceOf(TooManyRequestsError);
    expect((e as TooManyRequestsError).retryAfterSeconds).toBe(17);
    const bare = await failure(429, () => client.login('alice', PASSWORD));
    expect((bare as TooManyRequestsError).retryAfterSeconds).toBeUndefined();
  });

  test('503 from the only node is UnavailableError', async () => {
    expect(await failure(503, () => client.login('alice', PASSWORD))).toBeInstanceOf(UnavailableError);
  });

  test("OpenSearch's error shape: the message is its type and reason", async () => {
    const body = { error: { root_cause: [{ type: 'illegal_argument_exception', reason: 'setting [x] not recognized' }], type: 'illegal_argument_exception', reason: 'setting [x] not recognized' }, status: 400 };
    fake.setHandler(() => ({ status: 400, body }));
    const err = (await client.putClusterSettings({ transient: { x: 1 } }).catch((e: unknown) => e)) as BadRequestError;
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe('illegal_argument_exception: setting [x] not recognized');
    expect(err.body).toEqual(body);
  });

  test('other statuses are a plain HttpError', async () => {
    const e = await failure(500, () => client.listRoles());
    expect(e.constructor).toBe(HttpError);
  });

  test('an error body that is not JSON is kept as text; the message falls back to the status', async () => {
    fake.setHandler(() => ({ status: 502, raw: '<html>bad gateway</html>', headers: { 'content-type': 'text/html' } }));
    const e = (await client.listRoles().catch((x: unknown) => x)) as HttpError;
    expect(e.status).toBe(502);
    expect(e.body).toBe('<html>bad gateway</html>');
    expect(e.message).toBe(`HTTP 502 from ${fake.url}`);
  });

  test('a 200 without valid JSON is InvalidResponseError', async () => {
    fake.setHandler(() => ({ status: 200, raw: 'not json' }));
    const e = await client.listRoles().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidResponseError);
    expect((e as InvalidResponseError).status).toBe(200);
    fake.setHandler(() => ({ status: 200, raw: '' }));
    await expect(client.listRoles()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  test('no error message carries the password', async () => {
    const messages: string[] = [];
    for (const status of [400, 401, 429, 500, 503]) {
      fake.setHandler(() => ({ status }));
      const e = (await client.login('alice', PASSWORD).catch((x: unknown) => x)) as Error;
      messages.push(e.message, String(e), e.stack ?? '');
    }
    const dead = await closedPortUrl();
    const offline = new AuthcacheClient({ nodes: [dead, fake.url], timeoutMs: 200 });
    fake.setHandler(() => 'hang');
    const e = (await offline.authinfo('alice', PASSWORD).catch((x: unknown) => x)) as ConnectionError;
    expect(e).toBeInstanceOf(ConnectionError);
    messages.push(e.message, JSON.stringify(e.attempts));
    const b64 = Buffer.from(`alice:${PASSWORD}`).toString('base64');
    for (const m of messages) {
      expect(m).not.toContain(PASSWORD);
      expect(m).not.toContain(b64);
    }
  });
});

describe('parseRetryAfter', () => {
  test('delay-seconds, HTTP-date, and garbage', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
