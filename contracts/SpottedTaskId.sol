// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title SpottedTaskId
/// @notice The task id operators sign: every field at its full width, epoch and timestamp
///         included, so a proof cannot be replayed for another epoch or time. Consumer contracts
///         recompute it from the proven fields before checking the signature set.
library SpottedTaskIdLib {
    function compute(
        address user,
        uint32 chainId,
        uint64 blockNumber,
        uint48 timestamp,
        uint32 epoch,
        uint256 key,
        uint256 value
    ) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(user, chainId, blockNumber, timestamp, epoch, key, value));
    }
}

/// @notice Exposes the library for off-chain cross-checks (tests compare it to the node's hash).
contract SpottedTaskId {
    function computeTaskId(
        address user,
        uint32 chainId,
        uint64 blockNumber,
        uint48 timestamp,
        uint32 epoch,
        uint256 key,
        uint256 value
    ) external pure returns (bytes32) {
        return SpottedTaskIdLib.compute(user, chainId, blockNumber, timestamp, epoch, key, value);
    }
}
