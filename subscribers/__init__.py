"""The engine side: read Drift market data from NATS, never from the RPC."""
