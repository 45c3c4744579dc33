# pragma version ~=0.4.3
"""
@title Compute Spread constants
@notice The scales every contract, the SDK and the keepers share. Units:
        quantity  = integer thousandths of a unit (1 MWh, 1 GPU-hour); 1 kWh = 1 for power.
        price     = signed collateral base units per 1 unit (USDC 6 dp: $45.23/MWh = 45_230_000).
        notional  = quantity * price / QUANTITY_SCALE, in collateral base units.
        rates     = basis points; 10_000 = 100%.
"""

# thousandths of a unit per unit
QUANTITY_SCALE: constant(int256) = 1_000
UQUANTITY_SCALE: constant(uint256) = 1_000
# basis points per 100%
BPS: constant(uint256) = 10_000
# cross-margin breadth: open markets an account may hold at once
MAX_OPEN_MARKETS: constant(uint256) = 32
# counterparties per deleverage call
MAX_ADL_BATCH: constant(uint256) = 16
# accounts per settle_many batch
MAX_SETTLE_BATCH: constant(uint256) = 100
# reporters per oracle round and feeds per report
MAX_REPORTERS: constant(uint256) = 16
MAX_FEEDS: constant(uint256) = 32
