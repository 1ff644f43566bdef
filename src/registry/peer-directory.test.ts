import { getAddress } from 'viem';
import { describe, expect, test } from 'vitest';
import { createPeerDirectory } from './peer-directory.ts';

const operator = (n: number) => getAddress(`0x${n.toString(16).padStart(40, '0')}`);
const noStore = { operators: { list: async () => [] } } as unknown as Parameters<
  typeof createPeerDirectory
>[0]['store'];

describe('peer directory', () => {
  test('behavior: binds both ways, case-insensitively by operator address', () => {
    const directory = createPeerDirectory({ store: noStore });
    directory.bind({ operator: operator(10), peerId: 'peerA', addresses: ['/memory/a'] });
    expect(directory.operatorOf('peerA')).toBe(operator(10));
    expect(directory.peerOf(operator(10).toLowerCase() as `0x${string}`)).toBe('peerA');
    expect(directory.list()).toEqual([
      { operator: operator(10), peerId: 'peerA', addresses: ['/memory/a'] },
    ]);
  });

  test('behavior: rebinding an operator frees its old peer', () => {
    const directory = createPeerDirectory({ store: noStore });
    directory.bind({ operator: operator(1), peerId: 'old', addresses: [] });
    directory.bind({ operator: operator(1), peerId: 'new', addresses: [] });
    expect(directory.operatorOf('old')).toBeUndefined();
    expect(directory.peerOf(operator(1))).toBe('new');
    expect(directory.list()).toHaveLength(1);
  });

  test('behavior: binding a peer to another operator moves it and reports the previous one', () => {
    const directory = createPeerDirectory({ store: noStore });
    directory.bind({ operator: operator(1), peerId: 'shared', addresses: [] });
    const { previousOperator } = directory.bind({
      operator: operator(2),
      peerId: 'shared',
      addresses: [],
    });
    expect(previousOperator).toBe(operator(1));
    expect(directory.peerOf(operator(1))).toBeUndefined();
    expect(directory.operatorOf('shared')).toBe(operator(2));
    expect(
      directory.bind({ operator: operator(2), peerId: 'shared', addresses: [] }).previousOperator,
    ).toBeUndefined();
  });

  test('behavior: unbind forgets both directions', () => {
    const directory = createPeerDirectory({ store: noStore });
    directory.bind({ operator: operator(1), peerId: 'p', addresses: [] });
    directory.unbind(operator(1));
    directory.unbind(operator(2));
    expect(directory.operatorOf('p')).toBeUndefined();
    expect(directory.list()).toEqual([]);
  });
});
