/** The HTTP-side rules of docs/architecture.md, "Permissions and impersonation" that the node and the CLI share: resource paths, permission names, limits. */
import { IMPERSONATE, IMPERSONATE_HEADER, KNOWN_PERMISSIONS, LIMITS, isValidName, normalizePermission, permissionProblem, resourceProblem } from '@authcache/protocol';

test('limits and names of the contract', () => {
  expect(LIMITS).toMatchObject({ resource: 1024, resourceSegments: 32, permission: 64, permissionsPerChange: 64, authorizeBatch: 256 });
  expect(IMPERSONATE).toBe('IMPERSONATE');
  expect(IMPERSONATE_HEADER).toBe('security_impersonate_as');
  expect(KNOWN_PERMISSIONS).toEqual(expect.arrayContaining(['CREATE', 'ALTER', 'DROP', 'SELECT', 'MODIFY', 'AUTHORIZE', 'DESCRIBE', 'EXECUTE']));
  for (const p of KNOWN_PERMISSIONS) expect(permissionProblem(p)).toBeUndefined();
});

describe('validation of names (protocol)', () => {
  test.each(['data', 'data/ks', 'data/ks/table', 'roles/alice', 'a/b/c/d', 'functions/ks/f(int)', 'data/ünï/表'])('accepts resource %s', (r) => {
    expect(resourceProblem(r)).toBeUndefined();
  });
  test.each([
    ['', '1..1024'],
    ['/data', 'empty segment'],
    ['data/', 'empty segment'],
    ['data//ks', 'empty segment'],
    ['data/../roles', '".."'],
    ['data/./x', '"."'],
    ['data\nks', 'control'],
    ['x'.repeat(1025), '1..1024'],
    [Array.from({ length: 33 }, () => 'a').join('/'), 'segments'],
    ['data/\uD800', 'surrogate'],
  ])('refuses resource #%# (%s)', (r, why) => {
    expect(resourceProblem(r)).toContain(why);
  });
  test('refuses non-strings', () => {
    expect(resourceProblem(7)).toBeDefined();
    expect(permissionProblem(null)).toBeDefined();
  });
  test.each(['SELECT', 'select', 'MY_PERM', 'app.read', 'x-1'])('accepts permission %s', (p) => expect(permissionProblem(p)).toBeUndefined());
  test.each(['', '1SELECT', 'SE LECT', 'SELECT;DROP', 'a'.repeat(65), 'ÜBER'])('refuses permission #%#', (p) => expect(permissionProblem(p)).toBeDefined());
  test('normalizes to upper case', () => expect(normalizePermission('select')).toBe('SELECT'));
});

describe('isValidName (the name rule of NAME_PATTERN and LIMITS.username)', () => {
  it('accepts names of 1..LIMITS.username characters, any script, spaces and punctuation included', () => {
    for (const name of ['a', 'john_doe', 'Jöns Åberg', '\u20ac'.repeat(LIMITS.username), 'x'.repeat(LIMITS.username), ')(uid=*']) expect(isValidName(name)).toBe(true);
  });
  it('refuses the empty name, one past the limit, any control character and what is not a string', () => {
    for (const name of ['', 'x'.repeat(LIMITS.username + 1), 'bob\u0000admin', 'a\nb', 'tab\there', 'del\u007f', '\u001f', undefined, 42, ['a']]) expect(isValidName(name)).toBe(false);
  });
});
