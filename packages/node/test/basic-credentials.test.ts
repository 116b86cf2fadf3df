import { MAX_PASSWORD, MAX_USERNAME, basicCredentials } from '../src/http/routes/login';

const basic = (s: string): string => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;

describe('basicCredentials', () => {
  it('decodes user:password', () => {
    expect(basicCredentials(basic('alice:secret'))).toEqual({ username: 'alice', password: 'secret' });
  });

  it('splits at the first colon: the password may contain colons, the user name may not', () => {
    expect(basicCredentials(basic('alice:a:b:c'))).toEqual({ username: 'alice', password: 'a:b:c' });
  });

  it('decodes UTF-8', () => {
    expect(basicCredentials(basic('zoë:pässwörd'))).toEqual({ username: 'zoë', password: 'pässwörd' });
  });

  it('accepts the scheme in any case and extra spaces after it', () => {
    expect(basicCredentials(`basic   ${Buffer.from('a:b').toString('base64')}`)).toEqual({ username: 'a', password: 'b' });
    expect(basicCredentials(`BASIC ${Buffer.from('a:b').toString('base64')}`)).toEqual({ username: 'a', password: 'b' });
  });

  it.each<[string, string | undefined]>([
    ['no header', undefined],
    ['empty header', ''],
    ['another scheme', 'Bearer abc'],
    ['no credentials', 'Basic'],
    ['no credentials after the space', 'Basic '],
    ['not base64', 'Basic !!!'],
    ['trailing garbage', `${basic('a:b')} x`],
    ['no colon', basic('alice')],
    ['empty user name', basic(':secret')],
    ['empty password', basic('alice:')],
    ['user name too long', basic(`${'u'.repeat(MAX_USERNAME + 1)}:p`)],
    ['password too long', basic(`u:${'p'.repeat(MAX_PASSWORD + 1)}`)],
  ])('rejects %s', (_why, header) => {
    expect(basicCredentials(header)).toBeUndefined();
  });

  it('accepts the longest user name and password allowed', () => {
    const u = 'u'.repeat(MAX_USERNAME);
    const p = 'p'.repeat(MAX_PASSWORD);
    expect(basicCredentials(basic(`${u}:${p}`))).toEqual({ username: u, password: p });
  });
});
