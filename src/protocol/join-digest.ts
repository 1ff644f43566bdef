import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem';

/** Domain separator: a join signature can never be mistaken for a task signature. */
const JOIN_DOMAIN = 'spotted/join/1';

export interface JoinDigestFields {
  operator: Address;
  /** The libp2p peer id the operator binds to its address. */
  peerId: string;
  /** 32 random bytes; the registry refuses a nonce it has seen before the request expires. */
  nonce: Hex;
  expiresAtMs: number;
}

/**
 * What an operator signs (raw digest, its current signing key) to join:
 * keccak256(abi.encode("spotted/join/1", operator, peerId, nonce, expiresAtMs)).
 */
export function joinDigest(fields: JoinDigestFields): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'address' },
        { type: 'string' },
        { type: 'bytes32' },
        { type: 'uint64' },
      ],
      [JOIN_DOMAIN, fields.operator, fields.peerId, fields.nonce, BigInt(fields.expiresAtMs)],
    ),
  );
}
