"""Silverback entry points (``silverback run keepers.bots.<name>_bot:bot --network ...``).

Thin: each file builds the keeper from ``CSPREAD_*`` settings on startup and forwards every
new block to it; the returned dict is the handler's metrics. The keeper talks to
``CSPREAD_RPC_URL`` if set, else to the ape network's own RPC.
"""
