"""One router per resource: orders, markets (book, trades), stream (websocket), health (+ metrics)."""
