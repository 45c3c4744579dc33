"""Compute Spread's protocol core: the rules every process shares, written once (pure Python and
numpy; never web3, FastAPI, SQL or HTTP)."""
