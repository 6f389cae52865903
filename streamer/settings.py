"""Settings: one frozen object per process, read from the environment in `__main__` only.

Library code takes a `Settings` (or plain arguments) and never reads `os.environ`.
URLs are `SecretStr`: they can hold API keys and passwords, so they never print.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamer.redact import redact, redact_url
from streamer.source_types import DecoderName

__all__ = ["Settings"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Everything DESIGN.md names, with its environment variable."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    network: Literal["mainnet", "devnet", "local"] = Field(
        "local", validation_alias=_env("DRIFT_NETWORK")
    )
    rpc_url: SecretStr | None = Field(None, validation_alias=_env("DRIFT_RPC_URL"))
    nats_url: SecretStr = Field(
        SecretStr("nats://127.0.0.1:4222"), validation_alias=_env("NATS_URL")
    )
    cache_ttl_funding: float = Field(
        30.0, gt=0, le=3600, validation_alias=_env("DRIFT_CACHE_TTL_FUNDING")
    )
    cache_ttl_price: float = Field(
        10.0, gt=0, le=3600, validation_alias=_env("DRIFT_CACHE_TTL_PRICE")
    )
    cache_ttl_markets: float = Field(
        60.0, gt=0, le=3600, validation_alias=_env("DRIFT_CACHE_TTL_MARKETS")
    )
    cache_ttl_spot: float = Field(
        30.0, gt=0, le=3600, validation_alias=_env("DRIFT_CACHE_TTL_SPOT")
    )
    max_retries: int = Field(5, ge=0, le=1000, validation_alias=_env("DRIFT_MAX_RETRIES"))
    retry_backoff: float = Field(2.0, ge=1.0, le=10.0, validation_alias=_env("DRIFT_RETRY_BACKOFF"))
    backoff_cap_s: float = Field(30.0, gt=0, le=30.0, validation_alias=_env("DRIFT_BACKOFF_CAP"))
    presence_ttl: float = Field(15.0, ge=1, le=600, validation_alias=_env("DRIFT_PRESENCE_TTL"))
    lease_ttl: float = Field(15.0, ge=1, le=600, validation_alias=_env("DRIFT_LEASE_TTL"))
    # A subset to stream, by Drift name (`SOL-PERP,BTC-PERP,USDC`); None streams all.
    markets: str | None = Field(None, max_length=10_000, validation_alias=_env("DRIFT_MARKETS"))
    # Client-side pacing of RPC requests (per second), under every provider profile.
    rpc_rate: float = Field(8.0, gt=0, le=10_000, validation_alias=_env("DRIFT_RPC_RATE"))
    rpc_method_rate: float = Field(
        1.5, gt=0, le=10_000, validation_alias=_env("DRIFT_RPC_METHOD_RATE")
    )
    # Keys per getMultipleAccounts (a provider answering 413 lowers it on its own).
    rpc_max_keys: int = Field(100, ge=1, le=1000, validation_alias=_env("DRIFT_RPC_MAX_KEYS"))
    # Account subscriptions per websocket (providers commonly cap them at 100).
    ws_max_subscriptions: int = Field(
        100, ge=1, le=10_000, validation_alias=_env("DRIFT_WS_MAX_SUBSCRIPTIONS")
    )
    # A JSON line per write the server acknowledged (streamer.journal); off if unset.
    write_journal: str | None = Field(
        None, max_length=4096, validation_alias=_env("DRIFT_WRITE_JOURNAL")
    )
    # Market accounts decoded by our decoder, or by driftpy's IDL coder (anchorpy): the
    # same values either way, the second kept to measure side by side.
    decoder: DecoderName = Field("own", validation_alias=_env("DRIFT_DECODER"))
    # 3 on a 3-node cluster: every bucket survives the loss of any one node.
    kv_replicas: int = Field(1, ge=1, le=5, validation_alias=_env("DRIFT_KV_REPLICAS"))

    @field_validator("rpc_url", "nats_url")
    @classmethod
    def _has_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and "://" not in value.get_secret_value():
            raise ValueError(f"not a URL: {redact_url(value.get_secret_value())}")
        return value

    def safe_dict(self) -> dict[str, object]:
        """The settings with URLs redacted: fit for logs and status."""
        out = self.model_dump()
        for key in ("rpc_url", "nats_url"):
            secret = getattr(self, key)
            out[key] = None if secret is None else redact(secret.get_secret_value())
        return out
