/**
 * Active Directory's ranged retrieval (`member;range=0-1499` ... `member;range=3000-*`): the pure
 * parsing and merging, then through the real read path (Directory.search, readSnapshot, the
 * store's holdersOf) with a scripted ldapts-like client that answers as AD does, since slapd never ranges.
 */
import { NoSuchObjectError, type Client, type ClientOptions, type Entry, type SearchOptions } from 'ldapts';
import { Directory } from '../src/roles/ldap/directory';
import { completeRanges, foldRanges, parseRangedName, rangeRequest } from '../src/roles/ldap/ranges';
import { readSnapshot } from '../src/roles/ldap/snapshot';
import { LdapRoleStore } from '../src/roles/ldap/store';
import { RoleStoreError } from '../src/roles/role-store';
import { fakeLdapConfig, silentLog } from './fakes';

describe('parseRangedName', () => {
  test.each([
    ['member;range=0-1499', { attr: 'member', low: 0, high: 1499 }],
    ['member;range=1500-*', { attr: 'member', low: 1500, high: '*' }],
    ['member;Range=3000-4499', { attr: 'member', low: 3000, high: 4499 }],
    ['member;binary;range=0-9', { attr: 'member;binary', low: 0, high: 9 }],
  ])('%s', (name, want) => expect(parseRangedName(name)).toEqual(want));

  test.each(['member', 'member;binary', 'range=0-5', 'member;range=5-4', 'member;range=a-*', 'member;range=0-', 'member;range=-1-5'])('%s is no range', (name) => {
    expect(parseRangedName(name)).toBeUndefined();
  });

  test('rangeRequest asks from an index to the end', () => {
    expect(rangeRequest('member', 1500)).toBe('member;range=1500-*');
  });
});

describe('foldRanges', () => {
  test('moves ranged values onto the plain attribute and says where to go on', () => {
    const e = { dn: 'cn=g', cn: ['g'], 'member;range=0-1': ['a', 'b'] } as Entry;
    expect([...foldRanges(e)]).toEqual([['member', 2]]);
    expect(e).toEqual({ dn: 'cn=g', cn: ['g'], member: ['a', 'b'] });
  });

  test('a last range (`*`) needs nothing more; an entry without ranges is untouched', () => {
    const e = { dn: 'cn=g', 'member;range=0-*': ['a'] } as Entry;
    expect(foldRanges(e).size).toBe(0);
    expect(e).toEqual({ dn: 'cn=g', member: ['a'] });
    const plain = { dn: 'cn=h', member: ['x'] } as Entry;
    expect(foldRanges(plain).size).toBe(0);
    expect(plain).toEqual({ dn: 'cn=h', member: ['x'] });
  });
});

/** What AD answers for `attribute` of a group holding `all`, `size` values per range. */
function adAnswer(dn: string, all: string[], attribute: string, size: number): Entry {
  const r = parseRangedName(attribute);
  const low = r?.low ?? 0;
  if (r === undefined && all.length <= size) return { dn, member: all } as Entry;
  const slice = all.slice(low, low + size);
  const last = low + size >= all.length;
  return { dn, [`member;range=${low}-${last ? '*' : low + slice.length - 1}`]: slice } as Entry;
}

describe('completeRanges', () => {
  const members = Array.from({ length: 3200 }, (_, i) => `uid=u${i},ou=people,dc=x`);

  test('follows the ranges to the last one and gets every value, in order', async () => {
    const asked: string[] = [];
    const entry = adAnswer('cn=big', members, 'member', 1500);
    const [done] = await completeRanges([entry], async (dn, attribute) => {
      asked.push(attribute);
      return adAnswer(dn, members, attribute, 1500);
    });
    expect(asked).toEqual(['member;range=1500-*', 'member;range=3000-*']);
    expect(done!.member).toEqual(members);
    expect(Object.keys(done!)).toEqual(['dn', 'member']);
  });

  test('an exact multiple of the range size: an answer without the attribute is the end', async () => {
    const entry = { dn: 'cn=g', 'member;range=0-1': ['a', 'b'] } as Entry;
    await completeRanges([entry], async (dn) => ({ dn }) as Entry);
    expect(entry.member).toEqual(['a', 'b']);
  });

  test('an answer that does not continue where the last range ended fails the read (no silent truncation)', async () => {
    const entry = () => ({ dn: 'cn=g', 'member;range=0-1': ['a', 'b'] }) as Entry;
    await expect(completeRanges([entry()], async (dn) => ({ dn, 'member;range=0-*': ['a'] }) as Entry)).rejects.toThrow(/asked for range 2-\*, got 0-\*/);
    await expect(completeRanges([entry()], async () => undefined)).rejects.toThrow(/went away/);
    await expect(completeRanges([entry()], async (dn) => ({ dn, member: ['a', 'b', 'c'] }) as Entry)).rejects.toThrow(/without a range/);
  });

  test('bounded: a server that keeps handing out ranges is given up on', async () => {
    const entry = { dn: 'cn=g', 'member;range=0-0': ['a'] } as Entry;
    await expect(
      completeRanges([entry], async (dn, attribute) => ({ dn, [`member;range=${parseRangedName(attribute)!.low}-${parseRangedName(attribute)!.low}`]: ['v'] }) as Entry, 5),
    ).rejects.toThrow(/more than 5 ranges/);
  });
});

/**
 * An ldapts-like client over an AD-like directory: users under ou=people, groups under
 * ou=groups, `member` handed out 1500 values at a time.
 */
class FakeAdClient {
  static users: string[] = [];
  static groups = new Map<string, string[]>();
  isConnected = true;
  isBound = false;

  constructor(_opts: ClientOptions) {}

  async bind(): Promise<void> {
    this.isBound = true;
  }

  async unbind(): Promise<void> {
    this.isConnected = false;
  }

  async startTLS(): Promise<void> {}

  async search(base: string, opts: SearchOptions): Promise<{ searchEntries: Entry[] }> {
    const attrs = (opts.attributes ?? []) as string[];
    const ranged = attrs.find((a) => parseRangedName(a) !== undefined);
    if (opts.scope === 'base' && FakeAdClient.groups.has(base)) {
      return { searchEntries: [adAnswer(base, FakeAdClient.groups.get(base)!, ranged ?? 'member', 1500)] };
    }
    if (base.startsWith('ou=groups')) {
      return { searchEntries: [...FakeAdClient.groups].map(([dn, m]) => ({ ...adAnswer(dn, m, 'member', 1500), cn: [/^cn=([^,]+)/.exec(dn)![1]!] }) as Entry) };
    }
    if (base.startsWith('ou=people') && opts.scope === 'sub') {
      return { searchEntries: FakeAdClient.users.map((u) => ({ dn: `uid=${u},ou=people,dc=x`, uid: [u] }) as Entry) };
    }
    return { searchEntries: [] };
  }

  async *searchPaginated(base: string, opts: SearchOptions): AsyncGenerator<{ searchEntries: Entry[] }> {
    yield await this.search(base, opts);
  }
}

function directory() {
  const cfg = fakeLdapConfig();
  const dir = new Directory(cfg, silentLog, (o) => new FakeAdClient(o) as unknown as Client);
  return { cfg, dir };
}

describe('through the real read path, against an AD-like client', () => {
  beforeEach(() => {
    FakeAdClient.users = Array.from({ length: 3200 }, (_, i) => `u${i}`);
    FakeAdClient.groups = new Map([
      ['cn=big,ou=groups,dc=x', FakeAdClient.users.map((u) => `uid=${u},ou=people,dc=x`)],
      ['cn=small,ou=groups,dc=x', ['uid=u1,ou=people,dc=x']],
    ]);
  });

  test('the snapshot (what the change poller and holdersOf read) has all 3200 members of the big group', async () => {
    const { cfg, dir } = directory();
    const snap = await readSnapshot(dir, cfg);
    expect(snap.groups.get('cn=big,ou=groups,dc=x')!.members).toHaveLength(3200);
    expect(snap.groups.get('cn=small,ou=groups,dc=x')!.members).toEqual(['uid=u1,ou=people,dc=x']);
    // the last member, only in the third range, is known to hold the group
    expect(snap.holdersOfGroup('cn=big,ou=groups,dc=x').has('u3199')).toBe(true);
    await dir.stop();
  });

  test("the store's holdersOf names the members past the first range", async () => {
    const { cfg, dir } = directory();
    const store = new LdapRoleStore(cfg, dir, silentLog);
    const holders = await store.holdersOf('big');
    expect(holders).toHaveLength(3200);
    expect(holders).toContain('u1500');
    expect(holders).toContain('u3199');
    await dir.stop();
  });

  test('a range that does not follow on is an unavailable read, not a short membership', async () => {
    const { cfg, dir } = directory();
    const original = FakeAdClient.prototype.search;
    const spy = jest.spyOn(FakeAdClient.prototype, 'search').mockImplementation(async function (this: FakeAdClient, base, opts) {
      // the group shrank between two ranges: AD starts again from 0
      if (opts.scope === 'base') return { searchEntries: [{ dn: base, 'member;range=0-*': ['uid=u0,ou=people,dc=x'] } as Entry] };
      return original.call(this, base, opts);
    });
    try {
      await expect(readSnapshot(dir, cfg)).rejects.toThrow(RoleStoreError);
    } finally {
      spy.mockRestore();
      await dir.stop();
    }
  });

  test('the group deleted between two ranges (a result code) is an unavailable read too, not "no such group"', async () => {
    const { dir } = directory();
    const original = FakeAdClient.prototype.search;
    const spy = jest.spyOn(FakeAdClient.prototype, 'search').mockImplementation(async function (this: FakeAdClient, base, opts) {
      if (opts.scope === 'base') throw new NoSuchObjectError('gone');
      return original.call(this, base, opts);
    });
    try {
      await expect(dir.search('ou=groups,dc=x', { scope: 'sub', filter: '(member=*)', attributes: ['cn', 'member'] })).rejects.toThrow(RoleStoreError);
    } finally {
      spy.mockRestore();
      await dir.stop();
    }
  });
});
