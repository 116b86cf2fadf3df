import { redactUrl } from '../src/redact-url';

describe('redactUrl', () => {
  it('replaces the password and keeps user, host, port and path', () => {
    expect(redactUrl('redis://user:s3cret@redis.example:6380/2')).toBe('redis://user:***@redis.example:6380/2');
    expect(redactUrl('rediss://:s3cret@h')).toBe('rediss://:***@h');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('leaves nothing of a password with an unencoded @ (drivers split at the last one too)', () => {
    const shown = redactUrl('redis://:p@ss@host:6379');
    expect(shown).not.toMatch(/ss|p%40|p@/);
    expect(shown).toBe('redis://:***@host:6379');
  });

  it('replaces passwords carried in the query string (node-postgres reads ?password=)', () => {
    const shown = redactUrl('postgres://u@db/app?password=S3cret&sslmode=require&PGPASSWORD=x&api_token=t');
    expect(shown).not.toMatch(/S3cret|=x\b|=t\b/);
    expect(shown).toContain('sslmode=require');
    expect(shown).toBe('postgres://u@db/app?password=***&sslmode=require&PGPASSWORD=***&api_token=***');
  });

  it('an unparseable URL shows only its scheme', () => {
    expect(redactUrl('valkey://:pw@[bad')).toBe('valkey://(unparseable URL)');
    expect(redactUrl(':secret@redis:6379')).toBe('(unparseable URL)');
  });
});
