"""Massive (formerly Polygon.io): the WebSocket and REST client, the live and replayed sources, recordings,
and the local server that speaks its wire protocol for tests and demos."""
