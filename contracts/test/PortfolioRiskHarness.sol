// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioRisk} from "../libraries/PortfolioRisk.sol";

/// @notice Exposes the PortfolioRisk library to tests (the SDK's differential tests and the bad-parameter tables).
contract PortfolioRiskHarness {
    function validateModel(PortfolioRisk.Model calldata m) external pure {
        PortfolioRisk.validateModel(m);
    }

    function validateMarket(
        int256[] calldata loadingsD18,
        uint256 idioVolD18,
        uint256 factors
    ) external pure {
        PortfolioRisk.validateMarket(loadingsD18, idioVolD18, factors);
    }

    function sizeAddOn(int256 notionalD18, uint256 depthD18) external pure returns (uint256) {
        return PortfolioRisk.sizeAddOn(notionalD18, depthD18);
    }

    function requirement(
        PortfolioRisk.Model calldata m,
        PortfolioRisk.Leg[] calldata legs
    ) external pure returns (PortfolioRisk.Requirement memory) {
        PortfolioRisk.validateModel(m);
        for (uint256 i; i < legs.length; ++i) {
            PortfolioRisk.validateMarket(legs[i].loadingsD18, legs[i].idioVolD18, m.factors);
        }
        return PortfolioRisk.requirement(m, legs);
    }

    /// @notice Gas of one requirement evaluation (the harness's own overhead excluded as far as possible).
    function requirementGas(
        PortfolioRisk.Model calldata m,
        PortfolioRisk.Leg[] calldata legs
    ) external view returns (uint256 gasUsed, uint256 mmD18) {
        uint256 before = gasleft();
        PortfolioRisk.Requirement memory r = PortfolioRisk.requirement(m, legs);
        gasUsed = before - gasleft();
        mmD18 = r.mmD18;
    }
}
