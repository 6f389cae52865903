"""The Drift side: one DriftClient per network, published to NATS."""
