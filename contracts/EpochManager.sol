// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title EpochManager (Spotted testbed)
/// @notice Pure block arithmetic for epochs. Epoch 0 starts at the deploy block (GENESIS_BLOCK).
///         A change made in the last GRACE_PERIOD blocks of an epoch takes effect two epochs later,
///         otherwise one epoch later, so every node sees the same operator set for a whole epoch.
contract EpochManager {
    error EpochManager__InvalidEpochLength();
    error EpochManager__InvalidGracePeriod();
    error EpochManager__BlockBeforeGenesis();
    /// @notice An epoch number or start block would not fit its type (uint32 / uint64).
    error EpochManager__EpochOverflow();

    uint64 public immutable GENESIS_BLOCK;
    uint64 public immutable EPOCH_LENGTH;
    uint64 public immutable GRACE_PERIOD;

    constructor(uint64 epochLength, uint64 gracePeriod) {
        if (epochLength == 0) revert EpochManager__InvalidEpochLength();
        if (gracePeriod >= epochLength) revert EpochManager__InvalidGracePeriod();
        GENESIS_BLOCK = uint64(block.number);
        EPOCH_LENGTH = epochLength;
        GRACE_PERIOD = gracePeriod;
    }

    function getEpochForBlock(uint64 blockNumber) public view returns (uint32) {
        if (blockNumber < GENESIS_BLOCK) revert EpochManager__BlockBeforeGenesis();
        return _toEpoch((blockNumber - GENESIS_BLOCK) / EPOCH_LENGTH);
    }

    function getCurrentEpoch() public view returns (uint32) {
        return getEpochForBlock(uint64(block.number));
    }

    /// @notice The epoch at which a change mined in `blockNumber` becomes effective.
    function getEffectiveEpochForBlock(uint64 blockNumber) public view returns (uint32) {
        uint256 epoch = getEpochForBlock(blockNumber);
        uint64 offset = (blockNumber - GENESIS_BLOCK) % EPOCH_LENGTH;
        return _toEpoch(offset >= EPOCH_LENGTH - GRACE_PERIOD ? epoch + 2 : epoch + 1);
    }

    function getEffectiveEpoch() external view returns (uint32) {
        return getEffectiveEpochForBlock(uint64(block.number));
    }

    function isInGracePeriod() external view returns (bool) {
        uint64 offset = (uint64(block.number) - GENESIS_BLOCK) % EPOCH_LENGTH;
        return offset >= EPOCH_LENGTH - GRACE_PERIOD;
    }

    function getStartBlockForEpoch(uint32 epoch) public view returns (uint64) {
        uint256 start = uint256(GENESIS_BLOCK) + uint256(epoch) * EPOCH_LENGTH;
        if (start > type(uint64).max) revert EpochManager__EpochOverflow();
        return uint64(start);
    }

    function getCurrentEpochStartBlock() external view returns (uint64) {
        return getStartBlockForEpoch(getCurrentEpoch());
    }

    function getNextEpochStartBlock() public view returns (uint64) {
        return getStartBlockForEpoch(_toEpoch(uint256(getCurrentEpoch()) + 1));
    }

    function blocksUntilNextEpoch() external view returns (uint64) {
        return getNextEpochStartBlock() - uint64(block.number);
    }

    function _toEpoch(uint256 epoch) private pure returns (uint32) {
        if (epoch > type(uint32).max) revert EpochManager__EpochOverflow();
        return uint32(epoch);
    }
}
