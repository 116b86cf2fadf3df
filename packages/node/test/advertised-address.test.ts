import { advertisedAddress } from '../src/advertised-address';

describe('advertisedAddress', () => {
  it('is the listen address when that is one a client can connect to', () => {
    expect(advertisedAddress('127.0.0.1', 7001, 'box')).toBe('127.0.0.1:7001');
    expect(advertisedAddress('10.0.0.5', 7070, 'box')).toBe('10.0.0.5:7070');
    expect(advertisedAddress('node1.internal', 7070, 'box')).toBe('node1.internal:7070');
  });

  it('is the hostname for a wildcard listen address (a container listening on every interface)', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '::0', '']) expect(advertisedAddress(host, 7070, 'node2')).toBe('node2:7070');
  });
});
