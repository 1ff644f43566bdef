import type { Address, Hex } from 'viem';
import { OPERATOR_STATUSES, type OperatorStatus } from '../core/operator-status.ts';
import {
  JoinRejectReason,
  JoinRequest,
  JoinResponse,
  type PeerInfo,
} from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { type EnumTable, SIGNATURE_BYTES, wireFields } from './fields.ts';
import { MAX_DETAIL_CHARS, MAX_PEERS_PER_MESSAGE } from './limits.ts';
import { checkPeerText } from './peers.ts';

/** A join request: a few fixed fields plus at most 8 multiaddrs of at most 256 characters. */
export const MAX_JOIN_REQUEST_BYTES = 4 * 1024;
/** Up to 512 peers with up to 8 addresses each; typical answers are a few KiB. */
export const MAX_JOIN_RESPONSE_BYTES = 512 * 1024;
/** Join nonces are 32 random bytes: replay protection needs no more, and no less. */
export const JOIN_NONCE_BYTES = 32;

/**
 * `/spotted/join/1` request, signed by the operator's signing key over the canonical join digest
 * (operator, peer id, nonce, expiry); the registry checks the signature, this codec only the shape.
 */
export interface JoinRequestMessage {
  readonly operator: Address;
  readonly peerId: string;
  readonly nonce: Hex;
  readonly expiresAtMs: number;
  readonly signature: Hex;
  readonly listenAddresses: readonly string[];
}

export type JoinRejectReasonName =
  | 'notRegistered'
  | 'badSignature'
  | 'expired'
  | 'replayedNonce'
  | 'suspended'
  | 'deregistered'
  | 'malformed';

const JOIN_REJECT_REASONS: EnumTable<JoinRejectReasonName, JoinRejectReason> = {
  notRegistered: JoinRejectReason.JOIN_REJECT_REASON_NOT_REGISTERED,
  badSignature: JoinRejectReason.JOIN_REJECT_REASON_BAD_SIGNATURE,
  expired: JoinRejectReason.JOIN_REJECT_REASON_EXPIRED,
  replayedNonce: JoinRejectReason.JOIN_REJECT_REASON_REPLAYED_NONCE,
  suspended: JoinRejectReason.JOIN_REJECT_REASON_SUSPENDED,
  deregistered: JoinRejectReason.JOIN_REJECT_REASON_DEREGISTERED,
  malformed: JoinRejectReason.JOIN_REJECT_REASON_MALFORMED,
};

/** A peer the registry knows, for bootstrap. Registry peers have no operator address. */
export interface PeerInfoMessage {
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly operator: Address | null;
}

/** `/spotted/join/1` response. */
export type JoinResponseMessage =
  | {
      readonly accepted: true;
      readonly status: OperatorStatus;
      readonly activeEpoch: number;
      readonly currentEpoch: number;
      readonly peers: readonly PeerInfoMessage[];
      readonly detail: string;
    }
  | {
      readonly accepted: false;
      readonly reason: JoinRejectReasonName;
      readonly detail: string;
    };

const requestFields = wireFields('JoinRequest');
const responseFields = wireFields('JoinResponse');

const DETAIL_RULE = { maxChars: MAX_DETAIL_CHARS };
const LISTEN_ADDRESSES = { peerIdField: 'peer_id', addressesField: 'listen_addresses' };

export function decodeJoinRequest(bytes: Uint8Array): JoinRequestMessage {
  return joinRequestFromProtobuf(
    decodeProtobuf('JoinRequest', JoinRequest, bytes, MAX_JOIN_REQUEST_BYTES),
  );
}

export function encodeJoinRequest(request: JoinRequestMessage): Uint8Array {
  return encodeProtobuf(
    'JoinRequest',
    JoinRequest,
    joinRequestToProtobuf(request),
    MAX_JOIN_REQUEST_BYTES,
  );
}

/** Validates a decoded `JoinRequest` (also carried inside `SyncResponse.joins`). */
export function joinRequestFromProtobuf(raw: JoinRequest): JoinRequestMessage {
  checkPeerText(requestFields, LISTEN_ADDRESSES, raw.peerId, raw.listenAddresses);
  return {
    operator: requestFields.address('operator_address', raw.operatorAddress),
    peerId: raw.peerId,
    nonce: requestFields.fixedBytes('nonce', raw.nonce, JOIN_NONCE_BYTES),
    expiresAtMs: requestFields.positive(
      'expires_at_ms',
      requestFields.safeInteger('expires_at_ms', raw.expiresAtMs),
    ),
    signature: requestFields.signature('signature', raw.signature),
    listenAddresses: raw.listenAddresses,
  };
}

export function joinRequestToProtobuf(request: JoinRequestMessage): JoinRequest {
  checkPeerText(requestFields, LISTEN_ADDRESSES, request.peerId, request.listenAddresses);
  return {
    operatorAddress: requestFields.addressBytes('operator_address', request.operator),
    peerId: request.peerId,
    nonce: requestFields.hexBytes('nonce', request.nonce, JOIN_NONCE_BYTES),
    expiresAtMs: requestFields.uint64(
      'expires_at_ms',
      requestFields.positive('expires_at_ms', request.expiresAtMs),
    ),
    signature: requestFields.hexBytes('signature', request.signature, SIGNATURE_BYTES),
    listenAddresses: [...request.listenAddresses],
  };
}

export function decodeJoinResponse(bytes: Uint8Array): JoinResponseMessage {
  const raw = decodeProtobuf('JoinResponse', JoinResponse, bytes, MAX_JOIN_RESPONSE_BYTES);
  const detail = responseFields.text('detail', raw.detail, DETAIL_RULE);
  const reasonGiven = raw.rejectReason !== JoinRejectReason.JOIN_REJECT_REASON_UNSPECIFIED;
  if (!raw.accepted) {
    if (!reasonGiven)
      responseFields.fail('MISSING_FIELD', 'reject_reason', 'a rejection needs a reason');
    if (raw.peers.length > 0 || raw.status.length > 0) {
      responseFields.fail('INCONSISTENT_FIELDS', null, 'a rejection carries peers or a status');
    }
    return {
      accepted: false,
      reason: responseFields.enumName('reject_reason', raw.rejectReason, JOIN_REJECT_REASONS),
      detail,
    };
  }
  if (reasonGiven) {
    responseFields.fail('INCONSISTENT_FIELDS', 'reject_reason', 'set on an accepted join');
  }
  responseFields.list('peers', raw.peers, { maxItems: MAX_PEERS_PER_MESSAGE });
  return {
    accepted: true,
    status: responseFields.oneOf('status', raw.status, OPERATOR_STATUSES),
    activeEpoch: raw.activeEpoch,
    currentEpoch: raw.currentEpoch,
    peers: raw.peers.map((peer, index) => peerInfoFromProtobuf(peer, `peers[${index}].`)),
    detail,
  };
}

export function encodeJoinResponse(response: JoinResponseMessage): Uint8Array {
  const detail = responseFields.text('detail', response.detail, DETAIL_RULE);
  const message: JoinResponse = response.accepted
    ? {
        accepted: true,
        rejectReason: JoinRejectReason.JOIN_REJECT_REASON_UNSPECIFIED,
        detail,
        status: responseFields.oneOf('status', response.status, OPERATOR_STATUSES),
        activeEpoch: responseFields.uint32('active_epoch', response.activeEpoch),
        currentEpoch: responseFields.uint32('current_epoch', response.currentEpoch),
        peers: peerInfosToProtobuf(response.peers),
      }
    : {
        accepted: false,
        rejectReason: responseFields.enumNumber(
          'reject_reason',
          response.reason,
          JOIN_REJECT_REASONS,
        ),
        detail,
        status: '',
        activeEpoch: 0,
        currentEpoch: 0,
        peers: [],
      };
  return encodeProtobuf('JoinResponse', JoinResponse, message, MAX_JOIN_RESPONSE_BYTES);
}

function peerInfoFromProtobuf(raw: PeerInfo, path: string): PeerInfoMessage {
  checkPeerText(responseFields, peerInfoFields(path), raw.peerId, raw.addresses);
  return {
    peerId: raw.peerId,
    addresses: raw.addresses,
    operator: responseFields.optionalAddress(`${path}operator_address`, raw.operatorAddress),
  };
}

function peerInfosToProtobuf(peers: readonly PeerInfoMessage[]): PeerInfo[] {
  responseFields.list('peers', peers, { maxItems: MAX_PEERS_PER_MESSAGE });
  return peers.map((peer, index) => {
    const path = `peers[${index}].`;
    checkPeerText(responseFields, peerInfoFields(path), peer.peerId, peer.addresses);
    return {
      peerId: peer.peerId,
      addresses: [...peer.addresses],
      operatorAddress: responseFields.optionalAddressBytes(
        `${path}operator_address`,
        peer.operator,
      ),
    };
  });
}

function peerInfoFields(path: string): { peerIdField: string; addressesField: string } {
  return { peerIdField: `${path}peer_id`, addressesField: `${path}addresses` };
}
