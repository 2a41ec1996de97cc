"""Signed HTTP messages between Request Fulfillment and other systems (the CRM's case feed in, webhooks out).

The recipe, the same both ways: the sender puts the Unix time in seconds in `X-RF-Timestamp` and
`sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body, keyed with the shared secret>` in `X-RF-Signature`. The
receiver recomputes it over the exact bytes it received, compares in constant time, and refuses a timestamp more
than `window` seconds away from its own clock (a captured message cannot be replayed later).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

TIMESTAMP_HEADER = "X-RF-Timestamp"
SIGNATURE_HEADER = "X-RF-Signature"
EVENT_ID_HEADER = "X-RF-Event-Id"
EVENT_TYPE_HEADER = "X-RF-Event-Type"
DEFAULT_WINDOW_SECONDS = 300


class BadSignature(ValueError):
    """The message is not signed with the shared secret, or was signed too long ago (or in the future)."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(_key(secret), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str | bytes, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str | bytes, timestamp_header: str | None, signature_header: str | None, body: bytes,
           now: datetime, window: int = DEFAULT_WINDOW_SECONDS) -> None:
    """Raise `BadSignature` with what is wrong unless the message is signed with `secret` within `window`."""
    if not timestamp_header or not signature_header:
        raise BadSignature(f"the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required")
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        raise BadSignature(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp_header[:40]!r}") from None
    if abs(now.timestamp() - timestamp) > window:
        raise BadSignature(f"{TIMESTAMP_HEADER} is more than {window} s from this server's clock "
                           "(a replayed or delayed message, or a clock out of step)")
    if not hmac.compare_digest(signature(secret, timestamp, body), signature_header.strip()):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match the body and timestamp (wrong secret or altered body)")
