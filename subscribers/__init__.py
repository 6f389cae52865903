"""The engine side: read Drift market data from NATS, never from the RPC.

Importing this package loads no driftpy: an engine process stays small.
"""

from subscribers.adapter import DriftAdapter
from subscribers.cache import CacheManager, CacheStats
from subscribers.client import ApiError, ClientStats, DriftStreamClient
from subscribers.presence import Presence

__all__ = [
    "ApiError",
    "CacheManager",
    "CacheStats",
    "ClientStats",
    "DriftAdapter",
    "DriftStreamClient",
    "Presence",
]
