import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { type Hex, hexToBytes } from 'viem';

/**
 * A node's libp2p identity as a secp256k1 key: the 32-byte secret a v3 keystore holds. Its peer
 * id (`16Uiu2…`) is what operators put after `/p2p/` in their registry bootstrap addresses, so it
 * must stay the same across restarts.
 */
export function libp2pKeyOf(privateKey: Hex): PrivateKey {
  const raw = hexToBytes(privateKey);
  if (raw.length !== 32) throw new Error('a libp2p identity key is 32 bytes');
  return privateKeyFromRaw(raw);
}

export function peerIdOfKey(privateKey: Hex): string {
  return peerIdFromPrivateKey(libp2pKeyOf(privateKey)).toString();
}
