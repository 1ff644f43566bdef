import { type Address, getAddress } from 'viem';
import { describe, expect, test } from 'vitest';
import { StoreInputError } from '../../../src/store/errors.ts';
import type { PeerInput } from '../../../src/store/operator/peer-cache.ts';
import { START_MS } from '../harness.ts';
import type { OperatorComplianceContext } from '../operator-compliance.ts';

const operatorB2: Address = getAddress('0x00000000000000000000000000000000000000b2');

const peer = (n: number, overrides: Partial<PeerInput> = {}): PeerInput => ({
  peerId: `Peer${n}`,
  addresses: [`/memory/op${n}/p2p/Peer${n}`],
  lastSeenAtMs: START_MS + n,
  status: 'connected',
  ...overrides,
});

/** `peerCache.upsertMany`: a join's discovery peers in one call. */
export function describeOperatorPeerCache(context: OperatorComplianceContext): void {
  describe('peerCache.upsertMany', () => {
    test('behavior: inserts new peers and replaces stored ones, returning them in the order given', async () => {
      const { store } = await context.openOperator();
      await store.peerCache.upsert(peer(2, { status: 'disconnected' }));
      const records = await store.peerCache.upsertMany([
        peer(3),
        peer(2, { operatorAddress: operatorB2, lastSeenAtMs: START_MS + 50 }),
        peer(1, { addresses: [] }),
      ]);
      expect(records.map((record) => record.peerId)).toEqual(['Peer3', 'Peer2', 'Peer1']);
      expect(records[1]).toEqual({
        peerId: 'Peer2',
        operatorAddress: operatorB2,
        addresses: ['/memory/op2/p2p/Peer2'],
        lastSeenAtMs: START_MS + 50,
        status: 'connected',
      });
      for (const record of records) {
        expect(await store.peerCache.get(record.peerId)).toEqual(record);
      }
      expect(await store.peerCache.list({ limit: 10 })).toHaveLength(3);
      expect(await store.peerCache.upsertMany([])).toEqual([]);
    });

    test('behavior: a repeated peer id or a bad entry is refused by its index, and nothing is written', async () => {
      const { store } = await context.openOperator();
      const repeated = store.peerCache.upsertMany([peer(1), peer(2), peer(1)]);
      await expect(repeated).rejects.toBeInstanceOf(StoreInputError);
      await expect(repeated).rejects.toMatchObject({ field: 'peers[2].peerId' });
      const bad = store.peerCache.upsertMany([
        peer(1),
        peer(2, { status: 'lost' as PeerInput['status'] }),
      ]);
      await expect(bad).rejects.toMatchObject({ field: 'peers[1].status' });
      expect(await store.peerCache.list({ limit: 10 })).toEqual([]);
    });

    test('behavior: records are copies: changing one changes nothing stored', async () => {
      const { store } = await context.openOperator();
      const [record] = await store.peerCache.upsertMany([peer(1)]);
      record?.addresses.push('/memory/elsewhere');
      const listed = await store.peerCache.list({ limit: 1 });
      listed[0]?.addresses.push('/memory/elsewhere');
      expect((await store.peerCache.get('Peer1'))?.addresses).toEqual(['/memory/op1/p2p/Peer1']);
    });
  });
}
