"""Silverback lister: `silverback run keepers.bots.lister_bot:bot --network <ecosystem:network:provider>`.

Logic: keepers/lister.py (every approved series template listed to its depth, each listing
paying the template's bond from this key). Settings: CSPREAD_* env vars (see docs/keepers.md);
with no CSPREAD_PRIVATE_KEY / CSPREAD_KEY_ENV it runs dry and logs what it would list.
"""

from ape import chain
from silverback import SilverbackBot, StateSnapshot

from keepers.bots._common import build_keeper, on_block
from keepers.lister import ListerSettings, build

bot = SilverbackBot()


@bot.on_startup()
def startup(_: StateSnapshot):
    bot.state.keeper = build_keeper("lister", ListerSettings, build)
    bot.state.started = {}
    return on_block(bot.state.keeper, bot.state.started)  # reads templates, nonce


@bot.on_(chain.blocks)
def on_new_block(_block):
    return on_block(bot.state.keeper, bot.state.started)
