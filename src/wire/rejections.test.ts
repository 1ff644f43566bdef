import { type Address, getAddress, type Hex } from 'viem';
import { describe, expect, test } from 'vitest';
import { encodeSignatureData } from '../core/signature-set.ts';
import {
  EpochState,
  HealthResponse,
  JoinRequest,
  JoinResponse,
  RegistryAnnouncement,
  SyncResponse,
  Task,
  TaskResponse,
  TaskResult,
} from '../generated/proto/spotted/v1/messages.pb.ts';
import { decodeEpochState, type EpochStateMessage, encodeEpochState } from './epoch.ts';
import { type WireErrorCode, WireValidationError } from './errors.ts';
import {
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthResponse,
  MAX_HEALTH_REQUEST_BYTES,
} from './health.ts';
import {
  decodeJoinRequest,
  decodeJoinResponse,
  encodeJoinRequest,
  encodeJoinResponse,
  type JoinRequestMessage,
} from './join.ts';
import { MAX_OPERATORS_PER_MESSAGE } from './limits.ts';
import { decodeRegistryAnnouncement, encodeRegistryAnnouncement } from './registry.ts';
import { decodeSyncResponse, encodeSyncResponse } from './sync.ts';
import { decodeTask, encodeTask, MAX_TASK_BYTES, type TaskMessage } from './task.ts';
import { decodeTaskResponse, encodeTaskResponse } from './task-response.ts';
import { decodeTaskResult, encodeTaskResult, type TaskResultMessage } from './task-result.ts';

const addressOf = (byte: number): Address =>
  getAddress(`0x${byte.toString(16).padStart(2, '0').repeat(20)}`);
const hexOf = (length: number, byte = 0xab): Hex =>
  `0x${byte.toString(16).padStart(2, '0').repeat(length)}`;
const bytesOf = (length: number, byte = 0xab): Uint8Array => new Uint8Array(length).fill(byte);

const TASK: TaskMessage = {
  taskId: hexOf(32),
  chainId: 31337,
  targetAddress: addressOf(0x11),
  key: 7n,
  blockNumber: 100n,
  timestampSec: 1_700_000_000n,
  byTimestamp: false,
  value: 42n,
  epoch: 3,
  round: 0,
  respondByMs: 1_700_000_003_000,
  selectedOperators: [addressOf(0x01), addressOf(0x02), addressOf(0x03)],
  historyBlockNumber: 99n,
  historyTimestampSec: 1_699_999_988n,
};

const COMPLETED: TaskResultMessage = {
  taskId: hexOf(32),
  chainId: 31337,
  targetAddress: addressOf(0x11),
  key: 7n,
  value: 42n,
  blockNumber: 100n,
  timestampSec: 1_700_000_000n,
  epoch: 3,
  status: 'completed',
  operators: [addressOf(0x01), addressOf(0x02)],
  signatures: [hexOf(65, 0x01), hexOf(65, 0x02)],
  signatureData: encodeSignatureData({
    operators: [addressOf(0x01), addressOf(0x02)],
    signatures: [hexOf(65, 0x01), hexOf(65, 0x02)],
    referenceEpoch: 3,
  }),
};

const EPOCH: EpochStateMessage = {
  epoch: 3,
  startBlock: 36n,
  minimumWeightWei: 1n,
  totalWeightWei: 300n,
  thresholdWeightWei: 200n,
  operators: [
    { operator: addressOf(0x01), signingKey: addressOf(0x21), weightWei: 100n },
    { operator: addressOf(0x02), signingKey: addressOf(0x22), weightWei: 200n },
  ],
  publishedAtMs: 1_700_000_000_000,
};

const JOIN: JoinRequestMessage = {
  operator: addressOf(0x01),
  peerId: '12D3KooWJPNNfSJ6jKJ5NGmLqEDx3efpDFMfTBfqhUQiQtKXjAY8',
  nonce: hexOf(32),
  expiresAtMs: 1_700_000_060_000,
  signature: hexOf(65),
  listenAddresses: ['/ip4/127.0.0.1/tcp/4001'],
};

/** Decodes a valid message with the generated codec, breaks one field, and re-encodes it. */
function tampered<T>(
  messageFns: { encode(message: T): { finish(): Uint8Array }; decode(bytes: Uint8Array): T },
  valid: Uint8Array,
  breakIt: (raw: T) => void,
): Uint8Array {
  const raw = messageFns.decode(valid);
  breakIt(raw);
  return messageFns.encode(raw).finish();
}

interface Rejection {
  name: string;
  run: () => unknown;
  code: WireErrorCode;
  messageType: string;
  field: string | null;
}

const task = encodeTask(TASK);
const completed = encodeTaskResult(COMPLETED);
const epoch = encodeEpochState(EPOCH);
const join = encodeJoinRequest(JOIN);
const signedResponse = encodeTaskResponse({
  taskId: hexOf(32),
  operator: addressOf(0x01),
  epoch: 3,
  round: 0,
  kind: 'signed',
  signature: hexOf(65),
});
const acceptedJoin = encodeJoinResponse({
  accepted: true,
  status: 'active',
  activeEpoch: 2,
  currentEpoch: 3,
  peers: [],
  detail: '',
});

const decodeRejections: Rejection[] = [
  // Size and protobuf framing.
  {
    name: 'a message over its byte cap, before parsing',
    run: () => decodeTask(new Uint8Array(MAX_TASK_BYTES + 1)),
    code: 'MESSAGE_TOO_LARGE',
    messageType: 'Task',
    field: null,
  },
  {
    name: 'truncated bytes',
    run: () => decodeTask(task.subarray(0, task.length - 1)),
    code: 'MALFORMED_PROTOBUF',
    messageType: 'Task',
    field: null,
  },
  {
    name: 'an invalid wire type',
    run: () => decodeTask(Uint8Array.of(0x0f)),
    code: 'MALFORMED_PROTOBUF',
    messageType: 'Task',
    field: null,
  },
  {
    name: 'bytes after a zero tag',
    run: () => decodeTask(Uint8Array.of(...task, 0x00, 0x01)),
    code: 'MALFORMED_PROTOBUF',
    messageType: 'Task',
    field: null,
  },
  {
    name: 'a string field that is not UTF-8',
    // Field 7 (refusal_detail), length-delimited, one byte 0xff.
    run: () => decodeTaskResponse(Uint8Array.of(...signedResponse, 0x3a, 0x01, 0xff)),
    code: 'MALFORMED_PROTOBUF',
    messageType: 'TaskResponse',
    field: null,
  },
  // Fixed widths.
  {
    name: 'a 19-byte address',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.targetAddress = bytesOf(19);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'Task',
    field: 'target_address',
  },
  {
    name: 'a missing task id',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.taskId = new Uint8Array(0);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'Task',
    field: 'task_id',
  },
  {
    name: 'a 33-byte uint256',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.key = bytesOf(33);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'Task',
    field: 'key',
  },
  {
    name: 'a 64-byte signature',
    run: () =>
      decodeTaskResponse(
        tampered(TaskResponse, signedResponse, (raw) => {
          raw.signature = bytesOf(64);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'TaskResponse',
    field: 'signature',
  },
  {
    name: 'a 16-byte join nonce',
    run: () =>
      decodeJoinRequest(
        tampered(JoinRequest, join, (raw) => {
          raw.nonce = bytesOf(16);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'JoinRequest',
    field: 'nonce',
  },
  {
    name: 'a short weight inside a list',
    run: () =>
      decodeEpochState(
        tampered(EpochState, epoch, (raw) => {
          const first = raw.operators[0];
          if (first !== undefined) first.weight = bytesOf(31);
        }),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'EpochState',
    field: 'operators[0].weight',
  },
  // Ranges.
  {
    name: 'a timestamp beyond uint48',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.timestamp = 1n << 48n;
        }),
      ),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'timestamp',
  },
  {
    name: 'a millisecond time beyond 2^53 - 1',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.respondByMs = 1n << 53n;
        }),
      ),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'respond_by_ms',
  },
  {
    name: 'chain id 0',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.chainId = 0;
        }),
      ),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'chain_id',
  },
  {
    name: 'a join that expires at 0',
    run: () =>
      decodeJoinRequest(
        tampered(JoinRequest, join, (raw) => {
          raw.expiresAtMs = 0n;
        }),
      ),
    code: 'OUT_OF_RANGE',
    messageType: 'JoinRequest',
    field: 'expires_at_ms',
  },
  // Lists.
  {
    name: 'a task for nobody',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.selectedOperators = [];
        }),
      ),
    code: 'MISSING_FIELD',
    messageType: 'Task',
    field: 'selected_operators',
  },
  {
    name: 'more operators than the cap',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.selectedOperators = Array.from({ length: MAX_OPERATORS_PER_MESSAGE + 1 }, () =>
            bytesOf(20),
          );
        }),
      ),
    code: 'TOO_MANY_ITEMS',
    messageType: 'Task',
    field: 'selected_operators',
  },
  {
    name: 'operators out of order',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.selectedOperators = [bytesOf(20, 0x02), bytesOf(20, 0x01)];
        }),
      ),
    code: 'NOT_SORTED',
    messageType: 'Task',
    field: 'selected_operators[1]',
  },
  {
    name: 'an operator selected twice',
    run: () =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.selectedOperators = [bytesOf(20, 0x01), bytesOf(20, 0x01)];
        }),
      ),
    code: 'DUPLICATE_ITEM',
    messageType: 'Task',
    field: 'selected_operators[1]',
  },
  {
    name: 'an operator listed twice in an epoch',
    run: () =>
      decodeEpochState(
        tampered(EpochState, epoch, (raw) => {
          raw.operators = [...raw.operators, ...raw.operators];
        }),
      ),
    code: 'DUPLICATE_ITEM',
    messageType: 'EpochState',
    field: 'operators[2]',
  },
  {
    name: 'nine listen addresses',
    run: () =>
      decodeJoinRequest(
        tampered(JoinRequest, join, (raw) => {
          raw.listenAddresses = Array.from({ length: 9 }, (_, index) => `/ip4/10.0.0.${index}`);
        }),
      ),
    code: 'TOO_MANY_ITEMS',
    messageType: 'JoinRequest',
    field: 'listen_addresses',
  },
  // Enums and text.
  {
    name: 'an unknown refusal reason',
    run: () =>
      decodeTaskResponse(
        tampered(TaskResponse, signedResponse, (raw) => {
          raw.signature = new Uint8Array(0);
          raw.refusalReason = 99 as TaskResponse['refusalReason'];
        }),
      ),
    code: 'UNKNOWN_ENUM_VALUE',
    messageType: 'TaskResponse',
    field: 'refusal_reason',
  },
  {
    name: 'a task status that is not final',
    run: () =>
      decodeTaskResult(
        tampered(TaskResult, completed, (raw) => {
          raw.status = 'pending';
        }),
      ),
    code: 'UNKNOWN_ENUM_VALUE',
    messageType: 'TaskResult',
    field: 'status',
  },
  {
    name: 'an unknown operator status',
    run: () =>
      decodeJoinResponse(
        tampered(JoinResponse, acceptedJoin, (raw) => {
          raw.status = 'ACTIVE';
        }),
      ),
    code: 'UNKNOWN_ENUM_VALUE',
    messageType: 'JoinResponse',
    field: 'status',
  },
  {
    name: 'an unknown node role',
    run: () =>
      decodeHealthResponse(
        HealthResponse.encode({
          role: 'miner',
          status: 'ok',
          epoch: 1,
          peers: 0,
          operatorAddress: new Uint8Array(0),
        }).finish(),
      ),
    code: 'UNKNOWN_ENUM_VALUE',
    messageType: 'HealthResponse',
    field: 'role',
  },
  {
    name: 'a refusal detail over its length cap',
    run: () =>
      decodeTaskResponse(
        tampered(TaskResponse, signedResponse, (raw) => {
          raw.signature = new Uint8Array(0);
          raw.refusalReason = 1;
          raw.refusalDetail = 'x'.repeat(513);
        }),
      ),
    code: 'INVALID_TEXT',
    messageType: 'TaskResponse',
    field: 'refusal_detail',
  },
  {
    name: 'a peer id with a slash',
    run: () =>
      decodeJoinRequest(
        tampered(JoinRequest, join, (raw) => {
          raw.peerId = '12D3/evil';
        }),
      ),
    code: 'INVALID_TEXT',
    messageType: 'JoinRequest',
    field: 'peer_id',
  },
  {
    name: 'a multiaddr not starting with /',
    run: () =>
      decodeRegistryAnnouncement(
        RegistryAnnouncement.encode({
          peerId: JOIN.peerId,
          addresses: ['ip4/127.0.0.1'],
          epoch: 1,
          stateHash: bytesOf(32),
          factsSeq: 0n,
          joinsSeq: 0n,
        }).finish(),
      ),
    code: 'INVALID_TEXT',
    messageType: 'RegistryAnnouncement',
    field: 'addresses[0]',
  },
  {
    name: 'an empty health status',
    run: () =>
      decodeHealthResponse(
        HealthResponse.encode({
          role: 'operator',
          status: '',
          epoch: 1,
          peers: 0,
          operatorAddress: new Uint8Array(0),
        }).finish(),
      ),
    code: 'MISSING_FIELD',
    messageType: 'HealthResponse',
    field: 'status',
  },
  // Consistency.
  {
    name: 'a response both signed and refused',
    run: () =>
      decodeTaskResponse(
        tampered(TaskResponse, signedResponse, (raw) => {
          raw.refusalReason = 1;
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResponse',
    field: null,
  },
  {
    name: 'a response neither signed nor refused',
    run: () =>
      decodeTaskResponse(
        tampered(TaskResponse, signedResponse, (raw) => {
          raw.signature = new Uint8Array(0);
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResponse',
    field: null,
  },
  {
    name: 'fewer signatures than operators',
    run: () =>
      decodeTaskResult(
        tampered(TaskResult, completed, (raw) => {
          raw.signatures = raw.signatures.slice(0, 1);
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResult',
    field: 'signatures',
  },
  {
    name: 'signature data for another epoch',
    run: () =>
      decodeTaskResult(
        tampered(TaskResult, completed, (raw) => {
          raw.epoch = 4;
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResult',
    field: 'signature_data',
  },
  {
    name: 'a failed task carrying a proof',
    run: () =>
      decodeTaskResult(
        tampered(TaskResult, completed, (raw) => {
          raw.status = 'failed';
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResult',
    field: null,
  },
  {
    name: 'a threshold above the total weight',
    run: () =>
      decodeEpochState(
        tampered(EpochState, epoch, (raw) => {
          raw.thresholdWeight = bytesOf(32, 0xff);
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'EpochState',
    field: 'threshold_weight',
  },
  {
    name: 'the same inside a sync answer, named by its path',
    run: () =>
      decodeSyncResponse(
        SyncResponse.encode({
          latestEpoch: { ...EpochState.decode(epoch), thresholdWeight: bytesOf(32, 0xff) },
          stateHash: new Uint8Array(0),
          operators: [],
          facts: [],
          factsNext: 0n,
          factsMore: false,
          joins: [],
          joinsNext: 0n,
          joinsMore: false,
        }).finish(),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'SyncResponse',
    field: 'latest_epoch.threshold_weight',
  },
  {
    name: 'an exit epoch without has_exit_epoch',
    run: () =>
      decodeSyncResponse(
        SyncResponse.encode({
          latestEpoch: undefined,
          stateHash: new Uint8Array(0),
          facts: [],
          factsNext: 0n,
          factsMore: false,
          joins: [],
          joinsNext: 0n,
          joinsMore: false,
          operators: [
            {
              operatorAddress: bytesOf(20),
              signingKey: bytesOf(20),
              weight: bytesOf(32),
              status: 'active',
              activeEpoch: 1,
              exitEpoch: 5,
              hasExitEpoch: false,
              missing: 0,
              successfulResponseCount: 0n,
            },
          ],
        }).finish(),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'SyncResponse',
    field: 'operators[0].exit_epoch',
  },
  {
    name: 'an operator fact of an unknown kind',
    run: () =>
      decodeSyncResponse(
        SyncResponse.encode({
          latestEpoch: undefined,
          stateHash: new Uint8Array(0),
          operators: [],
          facts: [
            {
              kind: 'voted',
              operatorAddress: bytesOf(20),
              taskId: bytesOf(32),
              missesCleared: 0,
            },
          ],
          factsNext: 1n,
          factsMore: false,
          joins: [],
          joinsNext: 0n,
          joinsMore: false,
        }).finish(),
      ),
    code: 'UNKNOWN_ENUM_VALUE',
    messageType: 'SyncResponse',
    field: 'facts[0].kind',
  },
  {
    name: 'an unsuspended fact carrying a task id',
    run: () =>
      decodeSyncResponse(
        SyncResponse.encode({
          latestEpoch: undefined,
          stateHash: new Uint8Array(0),
          operators: [],
          facts: [
            {
              kind: 'unsuspended',
              operatorAddress: bytesOf(20),
              taskId: bytesOf(32),
              missesCleared: 5,
            },
          ],
          factsNext: 1n,
          factsMore: false,
          joins: [],
          joinsNext: 0n,
          joinsMore: false,
        }).finish(),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'SyncResponse',
    field: 'facts[0].task_id',
  },
  {
    name: 'a replicated join with a short nonce inside a sync answer',
    run: () =>
      decodeSyncResponse(
        SyncResponse.encode({
          latestEpoch: undefined,
          stateHash: new Uint8Array(0),
          operators: [],
          facts: [],
          factsNext: 0n,
          factsMore: false,
          joins: [{ ...JoinRequest.decode(encodeJoinRequest(JOIN)), nonce: bytesOf(31) }],
          joinsNext: 1n,
          joinsMore: false,
        }).finish(),
      ),
    code: 'INVALID_LENGTH',
    messageType: 'JoinRequest',
    field: 'nonce',
  },
  {
    name: 'a rejected join without a reason',
    run: () =>
      decodeJoinResponse(
        tampered(JoinResponse, acceptedJoin, (raw) => {
          raw.accepted = false;
          raw.status = '';
        }),
      ),
    code: 'MISSING_FIELD',
    messageType: 'JoinResponse',
    field: 'reject_reason',
  },
  {
    name: 'an accepted join with a reject reason',
    run: () =>
      decodeJoinResponse(
        tampered(JoinResponse, acceptedJoin, (raw) => {
          raw.rejectReason = 2;
        }),
      ),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'JoinResponse',
    field: 'reject_reason',
  },
  {
    name: 'an empty health request over its cap',
    run: () => decodeHealthRequest(new Uint8Array(MAX_HEALTH_REQUEST_BYTES + 1)),
    code: 'MESSAGE_TOO_LARGE',
    messageType: 'HealthRequest',
    field: null,
  },
];

const encodeRejections: Rejection[] = [
  {
    name: 'an epoch beyond uint32',
    run: () => encodeTask({ ...TASK, epoch: 2 ** 32 }),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'epoch',
  },
  {
    name: 'a fractional round',
    run: () => encodeTask({ ...TASK, round: 1.5 }),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'round',
  },
  {
    name: 'a negative uint256',
    run: () => encodeTask({ ...TASK, value: -1n }),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'value',
  },
  {
    name: 'a uint256 of 2^256',
    run: () => encodeTask({ ...TASK, key: 1n << 256n }),
    code: 'OUT_OF_RANGE',
    messageType: 'Task',
    field: 'key',
  },
  {
    name: 'an address with a wrong checksum',
    run: () =>
      encodeTask({
        ...TASK,
        targetAddress: '0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAa',
      }),
    code: 'INVALID_ADDRESS',
    messageType: 'Task',
    field: 'target_address',
  },
  {
    name: 'unsorted operators',
    run: () => encodeTask({ ...TASK, selectedOperators: [addressOf(0x02), addressOf(0x01)] }),
    code: 'NOT_SORTED',
    messageType: 'Task',
    field: 'selected_operators[1]',
  },
  {
    name: 'a 64-byte signature',
    run: () =>
      encodeTaskResponse({
        taskId: hexOf(32),
        operator: addressOf(0x01),
        epoch: 3,
        round: 0,
        kind: 'signed',
        signature: hexOf(64),
      }),
    code: 'INVALID_LENGTH',
    messageType: 'TaskResponse',
    field: 'signature',
  },
  {
    name: 'text that is not well-formed Unicode',
    run: () =>
      encodeHealthResponse({
        role: 'operator',
        status: '\ud800',
        epoch: 1,
        peers: 0,
        operator: null,
      }),
    code: 'INVALID_TEXT',
    messageType: 'HealthResponse',
    field: 'status',
  },
  {
    name: 'signature data that does not match the fields',
    run: () => encodeTaskResult({ ...COMPLETED, epoch: 4 }),
    code: 'INCONSISTENT_FIELDS',
    messageType: 'TaskResult',
    field: 'signature_data',
  },
  {
    name: 'a message over its byte cap',
    run: () =>
      encodeJoinResponse({
        accepted: true,
        status: 'active',
        activeEpoch: 1,
        currentEpoch: 1,
        detail: '',
        peers: Array.from({ length: 400 }, () => ({
          peerId: JOIN.peerId,
          operator: null,
          addresses: Array.from({ length: 8 }, () => `/dns/${'a'.repeat(240)}`),
        })),
      }),
    code: 'MESSAGE_TOO_LARGE',
    messageType: 'JoinResponse',
    field: null,
  },
  {
    name: 'a sync answer listing an operator twice',
    run: () => {
      const record = {
        address: addressOf(0x01),
        signingKey: addressOf(0x21),
        weightWei: 1n,
        status: 'active' as const,
        activeEpoch: 1,
        exitEpoch: null,
        missing: 0,
        successfulResponseCount: 0,
      };
      return encodeSyncResponse({
        latestEpoch: null,
        stateHash: null,
        operators: [record, record],
      });
    },
    code: 'DUPLICATE_ITEM',
    messageType: 'SyncResponse',
    field: 'operators[1]',
  },
  {
    name: 'a registry announcement without a state hash',
    run: () =>
      encodeRegistryAnnouncement({
        peerId: JOIN.peerId,
        addresses: [],
        epoch: 1,
        stateHash: '0x',
      }),
    code: 'INVALID_LENGTH',
    messageType: 'RegistryAnnouncement',
    field: 'state_hash',
  },
];

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a WireValidationError, but nothing was thrown');
}

describe('wire validation', () => {
  test.each(decodeRejections)('rejects on decode: $name', (rejection) => {
    const error = thrownBy(rejection.run);
    expect(error).toBeInstanceOf(WireValidationError);
    expect(error).toMatchObject({
      code: rejection.code,
      messageType: rejection.messageType,
      field: rejection.field,
    });
  });

  test.each(encodeRejections)('refuses to encode: $name', (rejection) => {
    const error = thrownBy(rejection.run);
    expect(error).toBeInstanceOf(WireValidationError);
    expect(error).toMatchObject({
      code: rejection.code,
      messageType: rejection.messageType,
      field: rejection.field,
    });
  });

  test('behavior: the message names the message type, the field and the problem', () => {
    const error = thrownBy(() =>
      decodeTask(
        tampered(Task, task, (raw) => {
          raw.targetAddress = bytesOf(19);
        }),
      ),
    );
    expect(String(error)).toBe(
      'WireValidationError: Task.target_address: expected 20 bytes, got 19',
    );
    expect(String(thrownBy(() => decodeTask(new Uint8Array(MAX_TASK_BYTES + 1))))).toBe(
      'WireValidationError: Task: 32769 bytes, over the 32768-byte limit',
    );
  });

  test('behavior: decoded addresses are checksummed and uint256 fields are bigints', () => {
    const decoded = decodeTask(
      tampered(Task, task, (raw) => {
        raw.targetAddress = Uint8Array.from(
          Buffer.from('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', 'hex'),
        );
        raw.value = bytesOf(32, 0xff);
      }),
    );
    expect(decoded.targetAddress).toBe('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
    expect(decoded.value).toBe((1n << 256n) - 1n);
  });

  test('behavior: fields a newer peer adds are skipped, not refused', () => {
    // Field 99 (varint) is unknown to this version.
    const withUnknownField = Uint8Array.of(...task, 0x98, 0x06, 0x01);
    expect(decodeTask(withUnknownField)).toEqual(TASK);
  });
});
