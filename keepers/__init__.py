"""Compute Spread keeper bots: oracle pusher, liquidator, settler.

Decision logic lives in plain classes (chain state in, actions out) that unit tests drive
without a chain: ``keepers.pusher``, ``keepers.liquidator``, ``keepers.settler``.
``keepers.chain`` holds the shared plumbing (settings, JSON logs, Prometheus metrics, the
loop); the RPC with reconnect and the nonce-managed tx sender with fee bumping are the
``chain`` package. Entry points:

    cspread-pusher | cspread-liquidator | cspread-settler      (plain loop, any RPC)
    silverback run keepers.bots.<bot>_bot:bot --network ...               (ape network)
"""
