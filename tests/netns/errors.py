"""Errors of the network-namespace harness.

NetnsError    the machine cannot make namespaces (not root, `ip`/`nft` missing), a
              command (`ip`, `nft`) failed, a host or fault was misused, or a spawned
              helper (the delay proxy) did not start

Failures of `ip` and `nft` are converted where they are run (`commands.py`), with the
command and its stderr in the message.
"""

from __future__ import annotations

__all__ = ["NetnsError"]


class NetnsError(RuntimeError):
    """The harness could not build, change or remove part of a lab."""
