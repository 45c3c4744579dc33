"""Silverback pusher: `silverback run keepers.bots.pusher_bot:bot --network <ecosystem:network:provider>`.

Logic: keepers/pusher.py. Settings: CSPREAD_* env vars (see docs/keepers.md); with no
CSPREAD_PRIVATE_KEY / CSPREAD_KEY_ENV it runs dry and logs what it would send.
"""

from ape import chain
from silverback import SilverbackBot, StateSnapshot

from keepers.bots._common import build_keeper, on_block
from keepers.pusher import PusherSettings, build

bot = SilverbackBot()


@bot.on_startup()
def startup(_: StateSnapshot):
    bot.state.keeper = build_keeper("pusher", PusherSettings, build)
    bot.state.started = {}
    return on_block(bot.state.keeper, bot.state.started)  # loads state (resync, nonce, config)


@bot.on_(chain.blocks)
def on_new_block(_block):
    return on_block(bot.state.keeper, bot.state.started)
