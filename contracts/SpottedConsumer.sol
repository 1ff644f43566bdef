// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SpottedTaskIdLib} from "./SpottedTaskId.sol";

/// @notice The EIP-1271 check the Spotted registry exposes.
interface ISpottedSignatureChecker {
    function isValidSignature(bytes32 digest, bytes calldata signatureData)
        external
        view
        returns (bytes4);
}

/// @title SpottedConsumer
/// @notice A minimal destination-chain consumer of Spotted proofs: it stores
///         `value(user, key)` of a state chain at a block or time only with a signature set the
///         registry accepts, and each task id once. The aggregator's on-chain delivery submits
///         here; its exactly-once guarantee is checked against this contract's storage.
contract SpottedConsumer {
    struct StoredValue {
        address user;
        uint32 chainId;
        uint64 blockNumber;
        uint48 timestamp;
        uint32 epoch;
        uint256 key;
        uint256 value;
        address submitter;
    }

    /// @notice The task id was stored before; a proof is accepted once.
    error TaskAlreadyStored(bytes32 taskId);
    /// @notice The registry answered isValidSignature with something other than the magic value.
    error InvalidSignatureSet(bytes32 taskId);

    event ValueAccepted(
        bytes32 indexed taskId,
        address indexed user,
        uint32 indexed chainId,
        uint256 key,
        uint256 value,
        uint32 epoch
    );

    bytes4 internal constant ERC1271_MAGIC_VALUE = 0x1626ba7e;

    ISpottedSignatureChecker public immutable registry;
    /// @notice How many task ids are stored: the number of accepted submissions.
    uint256 public storedCount;
    mapping(bytes32 taskId => StoredValue) private values;
    mapping(bytes32 taskId => bool) public isStored;

    constructor(ISpottedSignatureChecker _registry) {
        registry = _registry;
    }

    /// @notice Stores a proven value. Recomputes the task id from the proven fields (so the
    ///         signatures cover exactly what is stored), then asks the registry to check the
    ///         signature set; its own errors (InsufficientSignedStake, InvalidSignature, …)
    ///         propagate unchanged.
    function submit(
        address user,
        uint32 chainId,
        uint64 blockNumber,
        uint48 timestamp,
        uint32 epoch,
        uint256 key,
        uint256 value,
        bytes calldata signatureData
    ) external returns (bytes32 taskId) {
        taskId = SpottedTaskIdLib.compute(user, chainId, blockNumber, timestamp, epoch, key, value);
        if (isStored[taskId]) revert TaskAlreadyStored(taskId);
        if (registry.isValidSignature(taskId, signatureData) != ERC1271_MAGIC_VALUE) {
            revert InvalidSignatureSet(taskId);
        }
        isStored[taskId] = true;
        storedCount += 1;
        values[taskId] = StoredValue({
            user: user,
            chainId: chainId,
            blockNumber: blockNumber,
            timestamp: timestamp,
            epoch: epoch,
            key: key,
            value: value,
            submitter: msg.sender
        });
        emit ValueAccepted(taskId, user, chainId, key, value, epoch);
    }

    function getStoredValue(bytes32 taskId) external view returns (StoredValue memory) {
        return values[taskId];
    }
}
