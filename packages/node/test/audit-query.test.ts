import { AuditConfigError, AuditQueryError, auditSettingsFromEnv, parseAuditQuery, parseLimit, parseSince } from '../src/audit/audit-query';

const NOW = Date.parse('2026-12-02T06:00:00Z');

describe('since', () => {
  it('reads ISO 8601 with a zone, dates, ms epochs and durations', () => {
    expect(parseSince('2026-12-01T05:00:00Z', NOW)).toBe(Date.parse('2026-12-01T05:00:00Z'));
    expect(parseSince('2026-12-01T05:00:00.250+02:00', NOW)).toBe(Date.parse('2026-12-01T03:00:00.250Z'));
    expect(parseSince('2026-12-01', NOW)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(parseSince('1764655200000', NOW)).toBe(1764655200000);
    expect(parseSince('1h', NOW)).toBe(NOW - 3_600_000);
    expect(parseSince('15m', NOW)).toBe(NOW - 900_000);
    expect(parseSince('7d', NOW)).toBe(NOW - 7 * 86_400_000);
  });

  it('refuses anything else with a message that shows the expected forms', () => {
    for (const bad of ['abc', '', '1 h', '-5', '2026-13-45T00:00:00Z', '2026-12-01T05:00', 'NaN', '1e12', '99999999999999999', "'; DROP"]) {
      expect(() => parseSince(bad, NOW)).toThrow(AuditQueryError);
    }
    expect(() => parseSince('2026-12-01T05:00:00', NOW)).toThrow(/no time zone/);
    expect(() => parseSince('x'.repeat(10_000), NOW)).toThrow(/ISO 8601.*\.\.\."$/);
  });
});

describe('limit', () => {
  it('is a whole number from 1 to 1000', () => {
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
    for (const bad of ['0', '1001', '99999999999999999999', '-1', '1.5', 'ten', '']) expect(() => parseLimit(bad)).toThrow(/1 to 1000/);
  });
});

describe('the query string', () => {
  it('defaults to the newest 100', () => {
    expect(parseAuditQuery({}, NOW)).toEqual({ sinceMs: undefined, limit: 100 });
  });
  it('refuses unknown and repeated parameters', () => {
    expect(() => parseAuditQuery({ sinse: '1h' }, NOW)).toThrow(/unknown parameter "sinse"/);
    expect(() => parseAuditQuery({ limit: ['1', '2'] }, NOW)).toThrow(/more than once/);
  });
});

describe('the audit settings from the environment', () => {
  it('defaults to 10000 entries and 30 days', () => {
    expect(auditSettingsFromEnv({})).toEqual({ maxLen: 10_000, maxAgeMs: 30 * 86_400_000 });
    expect(auditSettingsFromEnv({ AUTHCACHE_AUDIT_MAX_LEN: '50', AUTHCACHE_AUDIT_MAX_AGE_MS: '60000' })).toEqual({ maxLen: 50, maxAgeMs: 60_000 });
  });
  it('names the variable of a bad value', () => {
    expect(() => auditSettingsFromEnv({ AUTHCACHE_AUDIT_MAX_LEN: 'lots' })).toThrow(new AuditConfigError('AUTHCACHE_AUDIT_MAX_LEN', 'must be a whole number, got "lots"'));
    expect(() => auditSettingsFromEnv({ AUTHCACHE_AUDIT_MAX_LEN: '0' })).toThrow(/AUTHCACHE_AUDIT_MAX_LEN: must be between 1 and/);
    expect(() => auditSettingsFromEnv({ AUTHCACHE_AUDIT_MAX_AGE_MS: '10' })).toThrow(/AUTHCACHE_AUDIT_MAX_AGE_MS: must be between 1000 and/);
  });
});
