"""Compute Spread's applications: the trader's CLI (``cspread``, apps.cli), the web dashboard
(``cspread-web``, apps.web) and the devnet market maker (``cspread-marketmaker``), all clients of
the public :mod:`sdk` like any user's program."""
