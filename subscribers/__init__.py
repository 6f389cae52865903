"""The engine side: read Drift market data from NATS, never from the RPC.

Importing this package loads no driftpy, and no aiohttp until a websocket URL is used
(`subscribers.lean_imports`): an engine process stays small.
"""

# first: nats-py imported without aiohttp (until a websocket is used), and with the
# header guard, in every process that reads NATS through us
from subscribers import lean_imports  # noqa: F401, I001  (installs on import)
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
