from matcher_helpers import chain, store, traders  # noqa: F401  (fixtures)
