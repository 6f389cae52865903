"""The engine side: read Drift market data from NATS, never from the RPC.

Importing this package loads no driftpy: an engine process stays small.
"""

# first: every process that reads NATS through us gets the nats-py header guard
from subscribers import natsfix  # noqa: F401  (installs on import)
from subscribers.adapter import DriftAdapter
from subscribers.buckets import BucketUnavailableError
from subscribers.cache import CacheManager, CacheStats
from subscribers.client import Accepted, ApiError, ClientStats, DriftStreamClient
from subscribers.errors import AuthenticationError, DriftStreamError, EngineIdentityError
from subscribers.presence import Presence

__all__ = [
    "Accepted",
    "ApiError",
    "AuthenticationError",
    "BucketUnavailableError",
    "CacheManager",
    "CacheStats",
    "ClientStats",
    "DriftAdapter",
    "DriftStreamClient",
    "DriftStreamError",
    "EngineIdentityError",
    "Presence",
]
