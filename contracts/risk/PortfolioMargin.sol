// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {PortfolioRisk} from "../libraries/PortfolioRisk.sol";

/// @title PortfolioMargin
/// @notice The risk model of portfolio accounts: stores the governance-set configuration (factor model, stress
///         scenarios, multipliers, every market's loadings) and evaluates `PortfolioRisk.requirement` on it for the
///         engine, which calls it for portfolio accounts only (cross and isolated accounts never pay for it).
/// @dev The configuration is one immutable blob of 32-byte words kept as the code of a data contract (written once
///      per change by CREATE, read by EXTCODECOPY): a health check of 16 positions reads the model and 16 markets'
///      loadings for one cold account access and a few hundred gas of copying, where storage would cost a cold
///      SLOAD per word (well over 100,000 gas). Layout, in words:
///          [0] K factors, [1] S scenarios, [2] z, [3] floor, [4] imScalar, [5] bitmap of listed markets,
///          [6, 6 + K*K) Cholesky factor L row-major, then S*K scenario shocks, then for each market id up to the
///          highest listed one K loadings, the idiosyncratic volatility and the add-on depth.
///      A market that is not listed gets no factor loadings and the largest idiosyncratic volatility the model
///      allows (100% per margin period): conservative, and it never reverts, so an unlisted market can neither
///      make a portfolio account unliquidatable nor earn it hedge credit.
///
///      Ramps: a new configuration never applies at once once accounts may depend on the old one. For
///      `rampDuration` seconds after it is set, every figure of the requirement is interpolated linearly between
///      the requirement under the old and under the new configuration (rounded up), so a tightening reaches an
///      account gradually (it has time to add margin or reduce) instead of liquidating it in one block. Setting
///      a configuration while one is still ramping in is refused (the old end-point would be ambiguous). Only the
///      first configuration, set at deployment before any account exists, applies at once.
contract PortfolioMargin is IPortfolioMargin, AccessControl {
    bytes32 public constant RISK_ROLE = keccak256("RISK_ROLE");
    uint256 internal constant WAD = 1e18;

    /// @notice Market ids are below this bound (the engine's MAX_MARKETS).
    uint256 public constant MAX_MARKETS = 64;
    /// @notice Ramp duration bounds (seconds): a configuration change takes between one hour and a week to apply.
    uint256 public constant MIN_RAMP = 1 hours;
    uint256 public constant MAX_RAMP = 7 days;
    /// @notice Add-on depth bounds (D18 USD), besides 0 (no add-on).
    uint256 public constant MIN_DEPTH = 1_000e18;
    uint256 public constant MAX_DEPTH = 1e31;

    uint256 private constant HEADER_WORDS = 6;

    /// @notice The data contract holding the configuration in force (the new one during a ramp).
    address public pointer;
    /// @notice The configuration being ramped out of (zero before the first change).
    address public previousPointer;
    uint64 public rampStart;
    uint64 public rampEnd;
    uint32 public rampDuration;
    /// @notice How many configurations have been set.
    uint256 public version;

    /// @param admin Receives the admin role (which grants the risk role) and the risk role.
    /// @param model_ The first configuration's model, applied at once.
    /// @param markets_ The first configuration's markets.
    /// @param rampDuration_ Seconds over which later configurations ramp in.
    constructor(
        address admin,
        PortfolioRisk.Model memory model_,
        MarketRisk[] memory markets_,
        uint256 rampDuration_
    ) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RISK_ROLE, admin);
        _setRampDuration(rampDuration_);
        _setConfig(model_, markets_);
    }

    /// @inheritdoc IPortfolioMargin
    function setConfig(
        PortfolioRisk.Model calldata model_,
        MarketRisk[] calldata markets_
    ) external onlyRole(RISK_ROLE) {
        _setConfig(model_, markets_);
    }

    /// @inheritdoc IPortfolioMargin
    function setRampDuration(uint256 rampDuration_) external onlyRole(RISK_ROLE) {
        _setRampDuration(rampDuration_);
    }

    /// @inheritdoc IPortfolioMargin
    function requirement(
        uint32[] calldata marketIds,
        int256[] calldata notionalsD18,
        uint256[] calldata standaloneImD18,
        uint256[] calldata standaloneMmD18
    ) external view returns (PortfolioRisk.Requirement memory r) {
        uint256 n = marketIds.length;
        if (notionalsD18.length != n || standaloneImD18.length != n || standaloneMmD18.length != n) {
            revert LegsShape();
        }
        r = _evaluate(pointer, marketIds, notionalsD18, standaloneImD18, standaloneMmD18);
        if (block.timestamp >= rampEnd) return r;
        PortfolioRisk.Requirement memory old = _evaluate(
            previousPointer,
            marketIds,
            notionalsD18,
            standaloneImD18,
            standaloneMmD18
        );
        uint256 elapsed = block.timestamp - rampStart;
        uint256 span = rampEnd - rampStart;
        r.varD18 = _towards(old.varD18, r.varD18, elapsed, span);
        r.stressD18 = _towards(old.stressD18, r.stressD18, elapsed, span);
        r.floorMmD18 = _towards(old.floorMmD18, r.floorMmD18, elapsed, span);
        r.floorImD18 = _towards(old.floorImD18, r.floorImD18, elapsed, span);
        r.addOnsD18 = _towards(old.addOnsD18, r.addOnsD18, elapsed, span);
        r.mmD18 = _towards(old.mmD18, r.mmD18, elapsed, span);
        r.imD18 = _towards(old.imD18, r.imD18, elapsed, span);
    }

    /// @inheritdoc IPortfolioMargin
    function model() external view returns (PortfolioRisk.Model memory m) {
        (m, ) = _readModel(pointer);
    }

    /// @inheritdoc IPortfolioMargin
    function marketRisk(uint32 marketId) external view returns (MarketRisk memory risk) {
        if (marketId >= MAX_MARKETS) revert MarketIdOutOfBounds(marketId);
        (PortfolioRisk.Model memory m, uint256 listed) = _readModel(pointer);
        risk.marketId = marketId;
        (risk.loadingsD18, risk.idioVolD18, risk.depthD18) = _readMarket(
            pointer,
            m.factors,
            _marketsFrom(m),
            listed,
            marketId
        );
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNALS
    //////////////////////////////////////////////////////////////*/

    function _setRampDuration(uint256 rampDuration_) internal {
        if (rampDuration_ < MIN_RAMP || rampDuration_ > MAX_RAMP)
            revert RampDurationOutOfBounds(rampDuration_);
        rampDuration = uint32(rampDuration_);
        emit RampDurationSet(rampDuration_);
    }

    /// @dev Validates the whole configuration, writes it as a new data contract and starts its ramp.
    function _setConfig(PortfolioRisk.Model memory m, MarketRisk[] memory markets_) internal {
        if (block.timestamp < rampEnd) revert RampInProgress(rampEnd);
        PortfolioRisk.validateModel(m);
        uint256 k = m.factors;
        uint256 listed;
        uint256 highest;
        for (uint256 i; i < markets_.length; ++i) {
            MarketRisk memory mr = markets_[i];
            uint256 bit = uint256(1) << mr.marketId;
            if (mr.marketId >= MAX_MARKETS || listed & bit != 0) revert MarketIdOutOfBounds(mr.marketId);
            PortfolioRisk.validateMarket(mr.loadingsD18, mr.idioVolD18, k);
            if (mr.depthD18 != 0 && (mr.depthD18 < MIN_DEPTH || mr.depthD18 > MAX_DEPTH)) {
                revert DepthOutOfBounds(mr.marketId, mr.depthD18);
            }
            listed |= bit;
            if (mr.marketId > highest) highest = mr.marketId;
        }

        uint256 base = HEADER_WORDS + k * k + m.scenarios.length;
        uint256 stride = k + 2;
        uint256[] memory words = new uint256[](markets_.length == 0 ? base : base + (highest + 1) * stride);
        words[0] = k;
        words[1] = m.scenarios.length / k;
        words[2] = m.zD18;
        words[3] = m.floorD18;
        words[4] = m.imScalarD18;
        words[5] = listed;
        for (uint256 i; i < k * k; ++i) words[HEADER_WORDS + i] = uint256(m.cholesky[i]);
        for (uint256 i; i < m.scenarios.length; ++i)
            words[HEADER_WORDS + k * k + i] = uint256(m.scenarios[i]);
        for (uint256 i; i < markets_.length; ++i) {
            MarketRisk memory mr = markets_[i];
            uint256 at = base + mr.marketId * stride;
            for (uint256 j; j < k; ++j) words[at + j] = uint256(mr.loadingsD18[j]);
            words[at + k] = mr.idioVolD18;
            words[at + k + 1] = mr.depthD18;
        }

        address written = _write(abi.encodePacked(words));
        uint256 start = block.timestamp;
        uint256 end = start;
        if (pointer != address(0)) {
            previousPointer = pointer;
            end = start + rampDuration;
        }
        pointer = written;
        rampStart = uint64(start);
        rampEnd = uint64(end);
        uint256 v = ++version;
        emit ConfigSet(v, written, k, words[1], markets_.length, start, end);
    }

    /// @dev Deploys a contract whose code is a STOP byte followed by `data` (the STOP keeps it from being run).
    ///      Init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN (10 bytes).
    function _write(bytes memory data) private returns (address written) {
        bytes memory code = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a3d393df300", data);
        assembly ("memory-safe") {
            written := create(0, add(code, 0x20), mload(code))
        }
        // Only fails for data above the code size limit, which the bounds above rule out.
        assert(written != address(0));
    }

    /// @dev `count` words of the blob at `pointer` from word `from`, into a fresh array.
    function _readWords(address at, uint256 from, uint256 count) private view returns (uint256[] memory out) {
        out = new uint256[](count);
        assembly ("memory-safe") {
            extcodecopy(at, add(out, 0x20), add(1, mul(from, 32)), mul(count, 32))
        }
    }

    function _readModel(address at) private view returns (PortfolioRisk.Model memory m, uint256 listed) {
        uint256[] memory head = _readWords(at, 0, HEADER_WORDS);
        uint256 k = head[0];
        m.factors = k;
        m.zD18 = head[2];
        m.floorD18 = head[3];
        m.imScalarD18 = head[4];
        listed = head[5];
        m.cholesky = _asInts(_readWords(at, HEADER_WORDS, k * k));
        m.scenarios = _asInts(_readWords(at, HEADER_WORDS + k * k, head[1] * k));
    }

    /// @dev The word index in the blob of market 0's record: past the header, L and the scenario shocks.
    function _marketsFrom(PortfolioRisk.Model memory m) private pure returns (uint256) {
        return HEADER_WORDS + m.factors * m.factors + m.scenarios.length;
    }

    /// @dev Market `marketId`'s loadings (k words), idiosyncratic volatility and add-on depth; `marketsFrom` is
    ///      `_marketsFrom` of the model (hoisted out of the callers' loops).
    function _readMarket(
        address at,
        uint256 k,
        uint256 marketsFrom,
        uint256 listed,
        uint32 marketId
    ) private view returns (int256[] memory loadings, uint256 idioVol, uint256 depth) {
        if (marketId >= MAX_MARKETS || listed & (uint256(1) << marketId) == 0) {
            return (new int256[](k), PortfolioRisk.MAX_IDIO_VOL, 0);
        }
        uint256 from;
        unchecked {
            // Tiny: marketId < MAX_MARKETS (checked above), k <= MAX_FACTORS and marketsFrom <= 6 + 6 * 6 + 16 * 6
            // (every blob was written by `_setConfig` from a model that passed `validateModel`).
            from = marketsFrom + uint256(marketId) * (k + 2);
        }
        uint256[] memory w = _readWords(at, from, k + 2);
        assembly ("memory-safe") {
            // w holds k + 2 words: the k loadings, then the idiosyncratic volatility (w[k]) and the depth (w[k + 1]).
            let tail := add(w, shl(5, add(k, 1))) // the address of w[k]
            idioVol := mload(tail)
            depth := mload(add(tail, 0x20))
            mstore(w, k) // the first k words are the loadings
        }
        loadings = _asInts(w);
    }

    /// @dev The requirement of the legs under the configuration at `at`.
    function _evaluate(
        address at,
        uint32[] calldata marketIds,
        int256[] calldata notionalsD18,
        uint256[] calldata standaloneImD18,
        uint256[] calldata standaloneMmD18
    ) private view returns (PortfolioRisk.Requirement memory) {
        (PortfolioRisk.Model memory m, uint256 listed) = _readModel(at);
        uint256 k = m.factors;
        uint256 marketsFrom = _marketsFrom(m);
        uint256 n = marketIds.length;
        PortfolioRisk.Leg[] memory legs = new PortfolioRisk.Leg[](n);
        for (uint256 i; i < n; ++i) {
            PortfolioRisk.Leg memory leg = legs[i];
            int256 notional = notionalsD18[i];
            uint256 depth;
            (leg.loadingsD18, leg.idioVolD18, depth) = _readMarket(at, k, marketsFrom, listed, marketIds[i]);
            leg.notionalD18 = notional;
            leg.standaloneImD18 = standaloneImD18[i];
            leg.standaloneMmD18 = standaloneMmD18[i];
            leg.addOnD18 = PortfolioRisk.sizeAddOn(notional, depth);
        }
        return PortfolioRisk.requirement(m, legs);
    }

    /// @dev `from` moved towards `to` by elapsed / span of the way, rounded up (the protocol's side).
    function _towards(
        uint256 from,
        uint256 to,
        uint256 elapsed,
        uint256 span
    ) private pure returns (uint256) {
        return
            to >= from
                ? from + Math.mulDiv(to - from, elapsed, span, Math.Rounding.Ceil)
                : from - Math.mulDiv(from - to, elapsed, span);
    }

    function _asInts(uint256[] memory words) private pure returns (int256[] memory ints) {
        assembly ("memory-safe") {
            ints := words
        }
    }
}
