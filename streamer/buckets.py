"""The KV buckets: both sides create-or-bind them with one function, which lives on the
engine side (subscribers/, no driftpy) so engines can create them too."""

from subscribers.buckets import ensure_bucket, ensure_buckets, ensure_stream, kv_config

__all__ = ["ensure_bucket", "ensure_buckets", "ensure_stream", "kv_config"]
