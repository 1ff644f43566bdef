import type { Hex } from 'viem';
import { RegistryAnnouncement } from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { HASH_BYTES, wireFields } from './fields.ts';
import { checkPeerText } from './peers.ts';

/** A peer id, at most 8 multiaddrs of at most 256 characters, an epoch and a hash. */
export const MAX_REGISTRY_ANNOUNCEMENT_BYTES = 4 * 1024;

/** `/spotted/registry/1`: a registry node says where it is and which state it holds. */
export interface RegistryAnnouncementMessage {
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly epoch: number;
  readonly stateHash: Hex;
  /** The latest operator fact this registry stored (its local sequence; 0 when none). */
  readonly factsSeq?: number;
  /** The latest signed join this registry recorded (its local sequence, memory only). */
  readonly joinsSeq?: number;
}

const fields = wireFields('RegistryAnnouncement');
const PEER_FIELDS = { peerIdField: 'peer_id', addressesField: 'addresses' };

export function decodeRegistryAnnouncement(bytes: Uint8Array): RegistryAnnouncementMessage {
  const raw = decodeProtobuf(
    'RegistryAnnouncement',
    RegistryAnnouncement,
    bytes,
    MAX_REGISTRY_ANNOUNCEMENT_BYTES,
  );
  checkPeerText(fields, PEER_FIELDS, raw.peerId, raw.addresses);
  return {
    peerId: raw.peerId,
    addresses: raw.addresses,
    epoch: raw.epoch,
    stateHash: fields.hash('state_hash', raw.stateHash),
    ...(raw.factsSeq > 0n ? { factsSeq: fields.safeInteger('facts_seq', raw.factsSeq) } : {}),
    ...(raw.joinsSeq > 0n ? { joinsSeq: fields.safeInteger('joins_seq', raw.joinsSeq) } : {}),
  };
}

export function encodeRegistryAnnouncement(announcement: RegistryAnnouncementMessage): Uint8Array {
  checkPeerText(fields, PEER_FIELDS, announcement.peerId, announcement.addresses);
  return encodeProtobuf(
    'RegistryAnnouncement',
    RegistryAnnouncement,
    {
      peerId: announcement.peerId,
      addresses: [...announcement.addresses],
      epoch: fields.uint32('epoch', announcement.epoch),
      stateHash: fields.hexBytes('state_hash', announcement.stateHash, HASH_BYTES),
      factsSeq: fields.uint64('facts_seq', announcement.factsSeq ?? 0),
      joinsSeq: fields.uint64('joins_seq', announcement.joinsSeq ?? 0),
    },
    MAX_REGISTRY_ANNOUNCEMENT_BYTES,
  );
}
