"""Settings come from the environment once; secrets never show."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from streamer.logs import JsonFormatter, KeyValueFormatter, hide_secrets
from streamer.redact import redact, redact_url
from streamer.settings import Settings

SECRET_RPC = "https://user:hunter2@rpc.example.com/v1/abcdefghijklmnopqrstuvwxyz0123?api-key=s3cr3t"


def test_defaults_match_design() -> None:
    """Without environment, the TTLs and retry settings are DESIGN.md's defaults."""
    s = Settings()
    assert (s.cache_ttl_funding, s.cache_ttl_price, s.cache_ttl_markets) == (30, 10, 60)
    assert s.cache_ttl_spot == 30
    assert (s.max_retries, s.retry_backoff, s.backoff_cap_s) == (5, 2.0, 30.0)
    assert s.nats_url.get_secret_value() == "nats://127.0.0.1:4222"
    assert s.decoder == "own"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRIFT_* and NATS_URL variables set the fields; the object is frozen."""
    monkeypatch.setenv("DRIFT_NETWORK", "devnet")
    monkeypatch.setenv("DRIFT_CACHE_TTL_FUNDING", "12")
    monkeypatch.setenv("DRIFT_CACHE_TTL_SPOT", "45")
    monkeypatch.setenv("NATS_URL", "nats://u:pw@10.0.0.1:4222")
    monkeypatch.setenv("DRIFT_DECODER", "anchorpy")
    s = Settings()
    assert s.network == "devnet"
    assert s.decoder == "anchorpy"
    assert s.cache_ttl_funding == 12
    assert s.cache_ttl_spot == 45
    with pytest.raises(ValidationError):
        setattr(s, "network", "mainnet")  # noqa: B010  (a typed assignment would not compile)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DRIFT_NETWORK", "testnet"),
        ("DRIFT_CACHE_TTL_PRICE", "-1"),
        ("DRIFT_CACHE_TTL_SPOT", "0"),
        ("DRIFT_BACKOFF_CAP", "60"),
        ("DRIFT_RPC_URL", "not a url"),
        ("DRIFT_MAX_RETRIES", "many"),
        ("DRIFT_DECODER", "construct"),
    ],
)
def test_bad_values_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A bad setting fails validation naming the field (backoff is capped at 30 s)."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    """repr, str and safe_dict of the settings hide passwords, keys and tokens."""
    monkeypatch.setenv("DRIFT_RPC_URL", SECRET_RPC)
    monkeypatch.setenv("NATS_URL", "nats://drift:natspw@127.0.0.1:4222")
    s = Settings()
    for text in (repr(s), str(s), str(s.safe_dict())):
        for secret in ("hunter2", "s3cr3t", "abcdefghijklmnopqrstuvwxyz0123", "natspw"):
            assert secret not in text
    assert s.safe_dict()["rpc_url"] == "https://***@rpc.example.com/v1/***?***"


@pytest.mark.parametrize("formatter", [KeyValueFormatter(), JsonFormatter()])
def test_log_lines_redact_urls(formatter: logging.Formatter) -> None:
    """Both log formats redact URLs in the message and in extra fields."""
    record = logging.makeLogRecord(
        {
            "msg": "rpc %s failed",
            "args": (SECRET_RPC,),
            "levelname": "ERROR",
            "name": "t",
            "url": SECRET_RPC,
        }
    )
    line = formatter.format(record)
    assert "hunter2" not in line
    assert "s3cr3t" not in line
    assert "rpc.example.com" in line


def test_redact_leaves_plain_text_and_survives_junk() -> None:
    """Text without URLs is unchanged; an unparsable URL becomes a placeholder."""
    assert redact("no urls here") == "no urls here"
    assert redact(42) == 42
    assert redact_url("http://[::1") == "<url>"


def test_log_lines_scrub_the_secrets_of_known_urls() -> None:
    """Once a URL is known, its password, API key and key-like path are scrubbed from
    every log line in both formats, even a library's line that shows no URL (websockets
    logs `GET /?api-key=... HTTP/1.1`); user names stay readable."""
    hide_secrets(
        "https://rpc.example.com/v2/AbCdEfGhIjKlMnOpQrStUvWx?api-key=k3y-123456",
        "nats://streamer:pa55word-xyz@127.0.0.1:4222",
    )
    record = logging.makeLogRecord(
        {
            "name": "websockets.client",
            "levelno": logging.DEBUG,
            "levelname": "DEBUG",
            "msg": "> GET /?api-key=%s HTTP/1.1 user=streamer pw=%s path=%s",
            "args": ("k3y-123456", "pa55word-xyz", "/v2/AbCdEfGhIjKlMnOpQrStUvWx"),
        }
    )
    for formatter in (KeyValueFormatter(), JsonFormatter()):
        line = formatter.format(record)
        for secret in ("k3y-123456", "pa55word-xyz", "AbCdEfGhIjKlMnOpQrStUvWx"):
            assert secret not in line
        assert "streamer" in line
        assert "***" in line
