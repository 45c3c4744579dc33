"""Silverback liquidator: `silverback run keepers.bots.liquidator_bot:bot --network <ecosystem:network:provider>`.

Logic: keepers/liquidator.py (one-market liquidations paid by the insurance fund's reward,
per-market close-outs of insolvent accounts, auto-deleveraging when the fund cannot carry one). Settings: CSPREAD_* env vars (see docs/keepers.md); with no
CSPREAD_PRIVATE_KEY / CSPREAD_KEY_ENV it runs dry and logs what it would send.
"""

from ape import chain
from silverback import SilverbackBot, StateSnapshot

from keepers.bots._common import build_keeper, on_block
from keepers.liquidator import LiquidatorSettings, build

bot = SilverbackBot()


@bot.on_startup()
def startup(_: StateSnapshot):
    bot.state.keeper = build_keeper("liquidator", LiquidatorSettings, build)
    bot.state.started = {}
    return on_block(bot.state.keeper, bot.state.started)  # loads state (resync, nonce, config)


@bot.on_(chain.blocks)
def on_new_block(_block):
    return on_block(bot.state.keeper, bot.state.started)
