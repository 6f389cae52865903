"""Re-exported from `subscribers.waits`: the engine library needs the same guards."""

from subscribers.waits import raise_if_cancelled, wait_event

__all__ = ["raise_if_cancelled", "wait_event"]
