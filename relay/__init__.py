"""Order relay and matcher (issue 5).

    relay    relay.app.create_app    FastAPI: POST/DELETE/GET /orders, /markets/{id}/book|trades, /ws
    logic    orders (EIP-712, signatures), validation, store (OrderStore + SQLAlchemy), book, follower, matcher
    runner   cspread-relay --manifest PATH --rpc-url URL --port N [--match]

See docs/relay.md.
"""
