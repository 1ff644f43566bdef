import type { Address } from 'viem';
import { HealthRequest, HealthResponse } from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeProtobuf, encodeProtobuf } from './codec.ts';
import { wireFields } from './fields.ts';

/** An empty message; a few bytes of slack for unknown fields from newer peers. */
export const MAX_HEALTH_REQUEST_BYTES = 64;
export const MAX_HEALTH_RESPONSE_BYTES = 512;
const MAX_HEALTH_STATUS_CHARS = 64;

export const NODE_ROLES = ['registry', 'operator'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

/** `/spotted/health/1` response: what a node is and whether it is well. */
export interface HealthResponseMessage {
  readonly role: NodeRole;
  /** Short free text, e.g. `ok` or `syncing`. */
  readonly status: string;
  readonly epoch: number;
  readonly peers: number;
  /** Set on operator nodes. */
  readonly operator: Address | null;
}

const requestFields = wireFields('HealthRequest');
const responseFields = wireFields('HealthResponse');
const STATUS_RULE = { maxChars: MAX_HEALTH_STATUS_CHARS, required: true };

/** The request has no fields; decoding only enforces its cap and well-formedness. */
export function decodeHealthRequest(bytes: Uint8Array): Record<string, never> {
  decodeProtobuf(requestFields.messageType, HealthRequest, bytes, MAX_HEALTH_REQUEST_BYTES);
  return {};
}

export function encodeHealthRequest(): Uint8Array {
  return encodeProtobuf(requestFields.messageType, HealthRequest, {}, MAX_HEALTH_REQUEST_BYTES);
}

export function decodeHealthResponse(bytes: Uint8Array): HealthResponseMessage {
  const raw = decodeProtobuf('HealthResponse', HealthResponse, bytes, MAX_HEALTH_RESPONSE_BYTES);
  return {
    role: responseFields.oneOf('role', raw.role, NODE_ROLES),
    status: responseFields.text('status', raw.status, STATUS_RULE),
    epoch: raw.epoch,
    peers: raw.peers,
    operator: responseFields.optionalAddress('operator_address', raw.operatorAddress),
  };
}

export function encodeHealthResponse(response: HealthResponseMessage): Uint8Array {
  return encodeProtobuf(
    'HealthResponse',
    HealthResponse,
    {
      role: responseFields.oneOf('role', response.role, NODE_ROLES),
      status: responseFields.text('status', response.status, STATUS_RULE),
      epoch: responseFields.uint32('epoch', response.epoch),
      peers: responseFields.uint32('peers', response.peers),
      operatorAddress: responseFields.optionalAddressBytes('operator_address', response.operator),
    },
    MAX_HEALTH_RESPONSE_BYTES,
  );
}
