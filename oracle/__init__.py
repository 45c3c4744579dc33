"""Compute Spread off-chain oracle.

Reads real price data (replayed CSVs on a devnet, live ISO / GPU-marketplace APIs in
production), computes the index methodology of ``docs/methodology.md`` (GPU index, power
profile averages, the compute spread), turns it into mark and settlement values for the
markets of a deployment manifest, and signs EIP-712 ``Report`` messages for the on-chain
``Oracle``.

Module map (maths modules never import FastAPI):

- ``errors``    exception types (all subclass ``OracleError`` and a builtin)
- ``units``     USD <-> contract integers (USDC, 6 decimals)
- ``data``      loaders for the vendored CSVs in ``data/``
- ``calendar``  NERC holidays, local-time profile masks (PEAK / OFFPEAK / ATC)
- ``specs``     market specs, canonical JSON, spec hash, symbols, feed ids
- ``index``     GPU index, power profile averages, spread (numpy, vectorised)
- ``timemap``   chain time <-> data time for replay on a devnet
- ``sources``   ``PriceSource`` interface, replay and live adapters
- ``valuation`` mark (realised + expected rest) and settlement values of a spec
- ``signing``   EIP-712 report signing, key loading
- ``manifest``  deployment manifest reading and checking
- ``reporter``  the reporter's state: observations, history, latest signed report
- ``settings``, ``models``, ``service``  the FastAPI service (``python -m oracle.service``)
"""

__version__ = "0.1.0"
