"""Silverback pool manager: `silverback run keepers.bots.pool_manager_bot:bot --network <ecosystem:network:provider>`.

Logic: keepers/pool_manager.py. Settings: CSPREAD_* env vars (CSPREAD_POOL names the pool in the
manifest's "pools" or gives its address); with no CSPREAD_PRIVATE_KEY / CSPREAD_KEY_ENV it runs dry
and logs the approvals it would send.
"""

from ape import chain
from silverback import SilverbackBot, StateSnapshot

from keepers.bots._common import build_keeper, on_block
from keepers.pool_manager import PoolManagerSettings, build

bot = SilverbackBot()


@bot.on_startup()
def startup(_: StateSnapshot):
    bot.state.keeper = build_keeper("pool_manager", PoolManagerSettings, build)
    bot.state.started = {}
    return on_block(bot.state.keeper, bot.state.started)  # reads the pool's open approvals from its logs


@bot.on_(chain.blocks)
def on_new_block(_block):
    return on_block(bot.state.keeper, bot.state.started)
