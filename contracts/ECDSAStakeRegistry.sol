// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochManager} from "./EpochManager.sol";

/// @title ECDSAStakeRegistry (Spotted testbed)
/// @notice Operator set with epoch-checkpointed weights and signing keys, and an EIP-1271 check
///         that a set of operator signatures carries at least the threshold weight at an epoch.
///         Every change is written at `getEffectiveEpoch()`, never at the current epoch, so the
///         operator set of a running epoch is frozen. The testbed owner sets weights directly,
///         standing in for EigenLayer delegation.
contract ECDSAStakeRegistry {
    struct Checkpoint {
        uint32 epoch;
        uint256 value;
    }

    error LengthMismatch();
    error InvalidLength();
    error InvalidSignature();
    error InvalidSignedWeight();
    error InsufficientSignedStake();
    error InsufficientWeight();
    error NotSorted();
    error OperatorAlreadyRegistered();
    error OperatorNotRegistered();
    error InvalidEpoch();
    error InvalidSigningKey();
    error SigningKeyAlreadyInUse();
    error NotAuthorized();

    event OperatorRegistered(
        address indexed _operator,
        uint256 indexed blockNumber,
        address indexed _signingKey,
        uint256 timestamp,
        address _avs
    );
    event OperatorDeregistered(
        address indexed _operator, uint256 indexed blockNumber, address indexed _avs
    );
    event OperatorWeightUpdated(address indexed _operator, uint256 oldWeight, uint256 newWeight);
    event TotalWeightUpdated(uint256 oldTotalWeight, uint256 newTotalWeight);
    event ThresholdWeightUpdated(uint256 _thresholdWeight);
    event MinimumWeightUpdated(uint256 _old, uint256 _new);
    event SigningKeyUpdate(
        address indexed operator,
        uint32 indexed effectiveEpoch,
        address newSigningKey,
        address oldSigningKey
    );

    bytes4 internal constant ERC1271_MAGIC_VALUE = 0x1626ba7e;
    /// @dev secp256k1n / 2: signatures with a larger s are malleable and rejected.
    uint256 internal constant HALF_CURVE_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    EpochManager public immutable epochManager;
    address public immutable owner;

    uint256 public minimumWeight;
    /// @notice 0 means automatic: ceil(2/3 of total weight).
    uint256 public configuredThresholdWeight;

    mapping(address operator => bool) public operatorRegistered;
    mapping(address signingKey => address operator) private operatorBySigningKey;
    mapping(address operator => Checkpoint[]) private weightHistory;
    mapping(address operator => Checkpoint[]) private signingKeyHistory;
    Checkpoint[] private totalWeightHistory;
    Checkpoint[] private thresholdWeightHistory;

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotAuthorized();
        _;
    }

    constructor(EpochManager _epochManager, uint256 _minimumWeight) {
        epochManager = _epochManager;
        owner = msg.sender;
        minimumWeight = _minimumWeight;
    }

    // ---------------------------------------------------------------- operator management

    function registerOperator(address operator, address signingKey, uint256 weight)
        external
        onlyOwner
    {
        if (operatorRegistered[operator]) revert OperatorAlreadyRegistered();
        if (weight < minimumWeight) revert InsufficientWeight();
        _claimSigningKey(operator, signingKey);
        operatorRegistered[operator] = true;
        uint32 epoch = epochManager.getEffectiveEpoch();
        _push(signingKeyHistory[operator], epoch, uint256(uint160(signingKey)));
        _setWeight(operator, weight, epoch);
        emit OperatorRegistered(operator, block.number, signingKey, block.timestamp, address(this));
    }

    /// @notice Called by the operator itself or by the owner.
    function deregisterOperator(address operator) external {
        if (msg.sender != operator && msg.sender != owner) revert NotAuthorized();
        if (!operatorRegistered[operator]) revert OperatorNotRegistered();
        operatorRegistered[operator] = false;
        address signingKey = _latestSigningKey(operator);
        delete operatorBySigningKey[signingKey];
        _setWeight(operator, 0, epochManager.getEffectiveEpoch());
        emit OperatorDeregistered(operator, block.number, address(this));
    }

    /// @notice Rotates the caller's signing key from its next effective epoch on.
    function updateOperatorSigningKey(address newSigningKey) external {
        address operator = msg.sender;
        if (!operatorRegistered[operator]) revert OperatorNotRegistered();
        address oldSigningKey = _latestSigningKey(operator);
        if (newSigningKey == oldSigningKey) revert SigningKeyAlreadyInUse();
        _claimSigningKey(operator, newSigningKey);
        delete operatorBySigningKey[oldSigningKey];
        uint32 epoch = epochManager.getEffectiveEpoch();
        _push(signingKeyHistory[operator], epoch, uint256(uint160(newSigningKey)));
        emit SigningKeyUpdate(operator, epoch, newSigningKey, oldSigningKey);
    }

    function updateOperatorWeight(address operator, uint256 weight) external onlyOwner {
        if (!operatorRegistered[operator]) revert OperatorNotRegistered();
        _setWeight(operator, weight, epochManager.getEffectiveEpoch());
    }

    function updateMinimumWeight(uint256 newMinimumWeight) external onlyOwner {
        emit MinimumWeightUpdated(minimumWeight, newMinimumWeight);
        minimumWeight = newMinimumWeight;
    }

    /// @notice Sets an absolute threshold weight; 0 returns to the automatic 2/3 rule.
    function updateStakeThreshold(uint256 thresholdWeight) external onlyOwner {
        configuredThresholdWeight = thresholdWeight;
        _writeThreshold(epochManager.getEffectiveEpoch());
    }

    // ---------------------------------------------------------------- views

    function getOperatorWeightAtEpoch(address operator, uint32 epoch)
        external
        view
        returns (uint256)
    {
        return _lookup(weightHistory[operator], epoch);
    }

    function getOperatorSigningKeyAtEpoch(address operator, uint32 epoch)
        public
        view
        returns (address)
    {
        return address(uint160(_lookup(signingKeyHistory[operator], epoch)));
    }

    function getTotalWeightAtEpoch(uint32 epoch) public view returns (uint256) {
        return _lookup(totalWeightHistory, epoch);
    }

    function getThresholdWeightAtEpoch(uint32 epoch) public view returns (uint256) {
        return _lookup(thresholdWeightHistory, epoch);
    }

    function getThresholdStake(uint32 epoch) external view returns (uint256) {
        return getThresholdWeightAtEpoch(epoch);
    }

    function getOperatorBySigningKey(address signingKey) external view returns (address) {
        return operatorBySigningKey[signingKey];
    }

    // ---------------------------------------------------------------- EIP-1271

    /// @param signatureData abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch)
    function isValidSignature(bytes32 digest, bytes calldata signatureData)
        external
        view
        returns (bytes4)
    {
        (address[] memory operators, bytes[] memory signatures, uint32 referenceEpoch) =
            abi.decode(signatureData, (address[], bytes[], uint32));
        if (referenceEpoch > epochManager.getCurrentEpoch()) revert InvalidEpoch();
        if (operators.length != signatures.length) revert LengthMismatch();
        if (operators.length == 0) revert InvalidLength();

        uint256 signedWeight = 0;
        address previous = address(0);
        for (uint256 i = 0; i < operators.length; i++) {
            address operator = operators[i];
            if (i > 0 && uint160(operator) <= uint160(previous)) revert NotSorted();
            previous = operator;
            address signingKey = getOperatorSigningKeyAtEpoch(operator, referenceEpoch);
            if (signingKey == address(0) || _recover(digest, signatures[i]) != signingKey) {
                revert InvalidSignature();
            }
            signedWeight += _lookup(weightHistory[operator], referenceEpoch);
        }
        if (signedWeight > getTotalWeightAtEpoch(referenceEpoch)) revert InvalidSignedWeight();
        if (signedWeight < getThresholdWeightAtEpoch(referenceEpoch)) {
            revert InsufficientSignedStake();
        }
        return ERC1271_MAGIC_VALUE;
    }

    // ---------------------------------------------------------------- internals

    function _claimSigningKey(address operator, address signingKey) private {
        if (signingKey == address(0)) revert InvalidSigningKey();
        if (operatorBySigningKey[signingKey] != address(0)) revert SigningKeyAlreadyInUse();
        operatorBySigningKey[signingKey] = operator;
    }

    function _latestSigningKey(address operator) private view returns (address) {
        Checkpoint[] storage history = signingKeyHistory[operator];
        return history.length == 0
            ? address(0)
            : address(uint160(history[history.length - 1].value));
    }

    function _setWeight(address operator, uint256 weight, uint32 epoch) private {
        Checkpoint[] storage history = weightHistory[operator];
        uint256 oldWeight = history.length == 0 ? 0 : history[history.length - 1].value;
        _push(history, epoch, weight);
        emit OperatorWeightUpdated(operator, oldWeight, weight);

        uint256 oldTotal = totalWeightHistory.length == 0
            ? 0
            : totalWeightHistory[totalWeightHistory.length - 1].value;
        uint256 newTotal = oldTotal - oldWeight + weight;
        _push(totalWeightHistory, epoch, newTotal);
        emit TotalWeightUpdated(oldTotal, newTotal);
        _writeThreshold(epoch);
    }

    function _writeThreshold(uint32 epoch) private {
        uint256 threshold = configuredThresholdWeight;
        if (threshold == 0) {
            uint256 total = totalWeightHistory.length == 0
                ? 0
                : totalWeightHistory[totalWeightHistory.length - 1].value;
            // ceil(2 * total / 3) without overflow: total = 3q + r  =>  2q + r.
            threshold = 2 * (total / 3) + (total % 3);
        }
        _push(thresholdWeightHistory, epoch, threshold);
        emit ThresholdWeightUpdated(threshold);
    }

    /// @dev Appends, or overwrites the pending checkpoint of the same epoch.
    function _push(Checkpoint[] storage history, uint32 epoch, uint256 value) private {
        uint256 length = history.length;
        if (length > 0 && history[length - 1].epoch == epoch) {
            history[length - 1].value = value;
        } else {
            history.push(Checkpoint({epoch: epoch, value: value}));
        }
    }

    /// @dev The value of the last checkpoint at or before `epoch`, or 0.
    function _lookup(Checkpoint[] storage history, uint32 epoch) private view returns (uint256) {
        uint256 low = 0;
        uint256 high = history.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (history[mid].epoch <= epoch) low = mid + 1;
            else high = mid;
        }
        return low == 0 ? 0 : history[low - 1].value;
    }

    function _recover(bytes32 digest, bytes memory signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        if (v != 27 && v != 28) return address(0);
        if (uint256(s) > HALF_CURVE_ORDER) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
