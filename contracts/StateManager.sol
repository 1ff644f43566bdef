// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title StateManager (Spotted testbed)
/// @notice Any account stores `key => value` with its full history; readers ask for the value
///         in force at a past block or time. One instance per supported chain.
contract StateManager {
    struct History {
        uint256 value;
        uint64 blockNumber;
        uint48 timestamp;
    }

    struct SetValueParams {
        uint256 key;
        uint256 value;
    }

    error StateManager__NoHistoryFound();
    error StateManager__BlockNotFound();
    error StateManager__TimestampNotFound();
    error StateManager__BatchTooLarge();
    error StateManager__IndexOutOfBounds();

    event HistoryCommitted(
        address indexed user, uint256 key, uint256 value, uint256 timestamp, uint256 blockNumber
    );

    uint256 public constant MAX_BATCH_SIZE = 100;

    mapping(address user => mapping(uint256 key => History[])) private histories;

    function setValue(uint256 key, uint256 value) external {
        _commit(key, value);
    }

    function batchSetValues(SetValueParams[] calldata params) external {
        if (params.length > MAX_BATCH_SIZE) revert StateManager__BatchTooLarge();
        for (uint256 i = 0; i < params.length; i++) {
            _commit(params[i].key, params[i].value);
        }
    }

    /// @notice The last entry committed at or before `blockNumber`.
    function getHistoryAtBlock(address user, uint256 key, uint256 blockNumber)
        external
        view
        returns (History memory)
    {
        if (blockNumber > block.number) revert StateManager__BlockNotFound();
        History[] storage entries = histories[user][key];
        // Upper bound: the number of entries with blockNumber <= target.
        uint256 low = 0;
        uint256 high = entries.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (entries[mid].blockNumber <= blockNumber) low = mid + 1;
            else high = mid;
        }
        if (low == 0) revert StateManager__NoHistoryFound();
        return entries[low - 1];
    }

    /// @notice The last entry committed at or before `timestamp`.
    function getHistoryAtTimestamp(address user, uint256 key, uint256 timestamp)
        external
        view
        returns (History memory)
    {
        if (timestamp > block.timestamp) revert StateManager__TimestampNotFound();
        History[] storage entries = histories[user][key];
        uint256 low = 0;
        uint256 high = entries.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (entries[mid].timestamp <= timestamp) low = mid + 1;
            else high = mid;
        }
        if (low == 0) revert StateManager__NoHistoryFound();
        return entries[low - 1];
    }

    function getHistoryCount(address user, uint256 key) external view returns (uint256) {
        return histories[user][key].length;
    }

    function getHistory(address user, uint256 key) external view returns (History[] memory) {
        return histories[user][key];
    }

    function getHistoryAt(address user, uint256 key, uint256 index)
        external
        view
        returns (History memory)
    {
        History[] storage entries = histories[user][key];
        if (index >= entries.length) revert StateManager__IndexOutOfBounds();
        return entries[index];
    }

    function _commit(uint256 key, uint256 value) private {
        histories[msg.sender][key].push(
            History({value: value, blockNumber: uint64(block.number), timestamp: uint48(block.timestamp)})
        );
        emit HistoryCommitted(msg.sender, key, value, block.timestamp, block.number);
    }
}
