import fc from 'fast-check';
import { type Address, bytesToHex, getAddress, type Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { compareAddresses } from '../core/address.ts';
import { OPERATOR_STATUSES } from '../core/operator-status.ts';
import { encodeSignatureData } from '../core/signature-set.ts';
import { decodeEpochState, type EpochStateMessage, encodeEpochState } from './epoch.ts';
import { WireValidationError } from './errors.ts';
import {
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthRequest,
  encodeHealthResponse,
  type HealthResponseMessage,
  NODE_ROLES,
} from './health.ts';
import {
  decodeJoinRequest,
  decodeJoinResponse,
  encodeJoinRequest,
  encodeJoinResponse,
  type JoinRequestMessage,
  type JoinResponseMessage,
  type PeerInfoMessage,
} from './join.ts';
import {
  decodeRegistryAnnouncement,
  encodeRegistryAnnouncement,
  type RegistryAnnouncementMessage,
} from './registry.ts';
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
  type OperatorFactMessage,
  type OperatorRecordMessage,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './sync.ts';
import { decodeTask, encodeTask, type TaskMessage } from './task.ts';
import {
  decodeTaskResponse,
  decodeTaskResponseAck,
  encodeTaskResponse,
  encodeTaskResponseAck,
  type TaskResponseAckMessage,
  type TaskResponseMessage,
} from './task-response.ts';
import { decodeTaskResult, encodeTaskResult, type TaskResultMessage } from './task-result.ts';

// Domain arbitraries: every value one that a correct node could send.
const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const hexOf = (length: number): fc.Arbitrary<Hex> =>
  bytes(length).map((value) => bytesToHex(value));
const address: fc.Arbitrary<Address> = bytes(20).map((value) => getAddress(bytesToHex(value)));
const hash = hexOf(32);
const signature = hexOf(65);
const uintOf = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const uint32 = uintOf(32).map(Number);
const safeMs = fc.maxSafeNat();
const text = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength });
const peerId = fc.stringMatching(/^[A-Za-z0-9]{1,64}$/);
const multiaddrText = fc.stringMatching(/^\/[\x21-\x7e]{0,120}$/);
const listenAddresses = fc.array(multiaddrText, { maxLength: 8 });
const ascendingAddresses = (minLength: number, maxLength: number) =>
  fc
    .uniqueArray(address, { selector: (entry) => entry.toLowerCase(), minLength, maxLength })
    .map((entries) => [...entries].sort(compareAddresses));

const task: fc.Arbitrary<TaskMessage> = fc.record({
  taskId: hash,
  chainId: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  targetAddress: address,
  key: uintOf(256),
  blockNumber: uintOf(64),
  timestampSec: uintOf(48),
  byTimestamp: fc.boolean(),
  value: uintOf(256),
  epoch: uint32,
  round: uint32,
  respondByMs: safeMs,
  selectedOperators: ascendingAddresses(1, 12),
  historyBlockNumber: uintOf(64),
  historyTimestampSec: uintOf(48),
});

const taskResponse: fc.Arbitrary<TaskResponseMessage> = fc.oneof(
  fc.record({
    taskId: hash,
    operator: address,
    epoch: uint32,
    round: uint32,
    kind: fc.constant('signed' as const),
    signature,
  }),
  fc.record({
    taskId: hash,
    operator: address,
    epoch: uint32,
    round: uint32,
    kind: fc.constant('refused' as const),
    reason: fc.constantFrom(
      'valueMismatch',
      'unknownChain',
      'notActive',
      'staleEpoch',
      'noHistory',
      'chainUnavailable',
      'malformedTask',
    ),
    detail: text(100),
    observedValue: fc.option(uintOf(256), { nil: null }),
  }),
);

const taskResponseAck: fc.Arbitrary<TaskResponseAckMessage> = fc.record({
  accepted: fc.boolean(),
  detail: text(100),
});

const resultCommon = {
  taskId: hash,
  chainId: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  targetAddress: address,
  key: uintOf(256),
  value: uintOf(256),
  blockNumber: uintOf(64),
  timestampSec: uintOf(48),
  epoch: uint32,
};

const taskResult: fc.Arbitrary<TaskResultMessage> = fc.oneof(
  fc.record({ ...resultCommon, operators: ascendingAddresses(1, 8) }).chain((common) =>
    fc
      .array(signature, { minLength: common.operators.length, maxLength: common.operators.length })
      .map(
        (signatures): TaskResultMessage => ({
          ...common,
          status: 'completed',
          signatures,
          signatureData: encodeSignatureData({
            operators: common.operators,
            signatures,
            referenceEpoch: common.epoch,
          }),
        }),
      ),
  ),
  fc.record({
    ...resultCommon,
    status: fc.constantFrom('failed' as const, 'expired' as const),
    failureReason: text(100),
  }),
);

const weights = fc
  .tuple(uintOf(256), uintOf(256))
  .map(([a, b]) => (a <= b ? { threshold: a, total: b } : { threshold: b, total: a }));

const epochState: fc.Arbitrary<EpochStateMessage> = fc
  .record({
    epoch: uint32,
    startBlock: uintOf(64),
    minimumWeightWei: uintOf(256),
    weights,
    operators: fc.uniqueArray(
      fc.record({ operator: address, signingKey: address, weightWei: uintOf(256) }),
      { selector: (entry) => entry.operator.toLowerCase(), maxLength: 10 },
    ),
    publishedAtMs: safeMs,
  })
  .map(({ weights: { threshold, total }, ...rest }) => ({
    ...rest,
    totalWeightWei: total,
    thresholdWeightWei: threshold,
  }));

const joinRequest: fc.Arbitrary<JoinRequestMessage> = fc.record({
  operator: address,
  peerId,
  nonce: hash,
  expiresAtMs: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  signature,
  listenAddresses,
});

const peerInfo: fc.Arbitrary<PeerInfoMessage> = fc.record({
  peerId,
  addresses: listenAddresses,
  operator: fc.option(address, { nil: null }),
});

const joinResponse: fc.Arbitrary<JoinResponseMessage> = fc.oneof(
  fc.record({
    accepted: fc.constant(true as const),
    status: fc.constantFrom(...OPERATOR_STATUSES),
    activeEpoch: uint32,
    currentEpoch: uint32,
    peers: fc.array(peerInfo, { maxLength: 5 }),
    detail: text(100),
  }),
  fc.record({
    accepted: fc.constant(false as const),
    reason: fc.constantFrom(
      'notRegistered',
      'badSignature',
      'expired',
      'replayedNonce',
      'suspended',
      'deregistered',
      'malformed',
    ),
    detail: text(100),
  }),
);

const syncRequest: fc.Arbitrary<SyncRequestMessage> = fc.oneof(
  fc.record({ fromEpoch: uint32, stateHash: fc.option(hash, { nil: null }) }),
  fc.record({
    fromEpoch: uint32,
    stateHash: fc.option(hash, { nil: null }),
    wantFacts: fc.constant(true),
    factsAfter: safeMs,
  }),
  fc.record({
    fromEpoch: uint32,
    stateHash: fc.option(hash, { nil: null }),
    wantJoins: fc.constant(true),
    joinsAfter: safeMs,
  }),
);

const operatorFact: fc.Arbitrary<OperatorFactMessage> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('missed' as const, 'succeeded' as const),
    operator: address,
    taskId: hash,
  }),
  fc.record({
    kind: fc.constant('unsuspended' as const),
    operator: address,
    missesCleared: uint32,
  }),
);

const operatorRecord: fc.Arbitrary<OperatorRecordMessage> = fc.record({
  address,
  signingKey: address,
  weightWei: uintOf(256),
  status: fc.constantFrom(...OPERATOR_STATUSES),
  activeEpoch: uint32,
  exitEpoch: fc.option(uint32, { nil: null }),
  missing: uint32,
  successfulResponseCount: safeMs,
});

const syncResponse: fc.Arbitrary<SyncResponseMessage> = fc
  .record({
    latestEpoch: fc.option(epochState, { nil: null }),
    stateHash: fc.option(hash, { nil: null }),
    operators: fc.uniqueArray(operatorRecord, {
      selector: (record) => record.address.toLowerCase(),
      maxLength: 6,
    }),
  })
  .chain((response) =>
    fc
      .option(
        fc.record({
          facts: fc.array(operatorFact, { maxLength: 5 }),
          factsNext: safeMs.filter((next) => next > 0),
          factsMore: fc.boolean(),
        }),
        { nil: undefined },
      )
      .map((page) => (page === undefined ? response : { ...response, ...page })),
  )
  .chain((response) =>
    fc
      .option(
        fc.record({
          joins: fc.array(joinRequest, { maxLength: 3 }),
          joinsNext: safeMs.filter((next) => next > 0),
          joinsMore: fc.boolean(),
        }),
        { nil: undefined },
      )
      .map((page) => (page === undefined ? response : { ...response, ...page })),
  );

const registryAnnouncement: fc.Arbitrary<RegistryAnnouncementMessage> = fc.record(
  {
    peerId,
    addresses: listenAddresses,
    epoch: uint32,
    stateHash: hash,
    factsSeq: safeMs.filter((seq) => seq > 0),
    joinsSeq: safeMs.filter((seq) => seq > 0),
  },
  { requiredKeys: ['peerId', 'addresses', 'epoch', 'stateHash'] },
);

const healthResponse: fc.Arbitrary<HealthResponseMessage> = fc.record({
  role: fc.constantFrom(...NODE_ROLES),
  status: text(20).filter((status) => status.length > 0 && status.length <= 64),
  epoch: uint32,
  peers: uint32,
  operator: fc.option(address, { nil: null }),
});

interface Codec {
  name: string;
  arbitrary: fc.Arbitrary<unknown>;
  encode: (message: never) => Uint8Array;
  decode: (bytes: Uint8Array) => unknown;
}

const codecs: Codec[] = [
  { name: 'Task', arbitrary: task, encode: encodeTask, decode: decodeTask },
  {
    name: 'TaskResponse',
    arbitrary: taskResponse,
    encode: encodeTaskResponse,
    decode: decodeTaskResponse,
  },
  {
    name: 'TaskResponseAck',
    arbitrary: taskResponseAck,
    encode: encodeTaskResponseAck,
    decode: decodeTaskResponseAck,
  },
  { name: 'TaskResult', arbitrary: taskResult, encode: encodeTaskResult, decode: decodeTaskResult },
  { name: 'EpochState', arbitrary: epochState, encode: encodeEpochState, decode: decodeEpochState },
  {
    name: 'JoinRequest',
    arbitrary: joinRequest,
    encode: encodeJoinRequest,
    decode: decodeJoinRequest,
  },
  {
    name: 'JoinResponse',
    arbitrary: joinResponse,
    encode: encodeJoinResponse,
    decode: decodeJoinResponse,
  },
  {
    name: 'SyncRequest',
    arbitrary: syncRequest,
    encode: encodeSyncRequest,
    decode: decodeSyncRequest,
  },
  {
    name: 'SyncResponse',
    arbitrary: syncResponse,
    encode: encodeSyncResponse,
    decode: decodeSyncResponse,
  },
  {
    name: 'RegistryAnnouncement',
    arbitrary: registryAnnouncement,
    encode: encodeRegistryAnnouncement,
    decode: decodeRegistryAnnouncement,
  },
  {
    name: 'HealthResponse',
    arbitrary: healthResponse,
    encode: encodeHealthResponse,
    decode: decodeHealthResponse,
  },
  {
    name: 'HealthRequest',
    arbitrary: fc.constant({}),
    encode: encodeHealthRequest,
    decode: decodeHealthRequest,
  },
];

describe('wire codecs', () => {
  for (const codec of codecs) {
    test(`property: decode${codec.name}(encode${codec.name}(m)) equals m`, () => {
      fc.assert(
        fc.property(codec.arbitrary, (message) => {
          const encoded = codec.encode(message as never);
          expect(codec.decode(encoded)).toEqual(message);
          // Canonical: re-encoding what was decoded gives the same bytes.
          expect(codec.encode(codec.decode(encoded) as never)).toEqual(encoded);
        }),
        { numRuns: 150 },
      );
    });

    test(`property: decode${codec.name} on arbitrary bytes returns or throws WireValidationError`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
          try {
            codec.decode(input);
          } catch (error) {
            expect(error).toBeInstanceOf(WireValidationError);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
