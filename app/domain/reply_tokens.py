"""The reply token that ties a customer's emailed reply to its request.

The question to the customer is sent with `Reply-To: reply+<token>@<inbound domain>` and `[<token>]` in its subject;
the token is the request number and a keyed hash of it (`RF-2026-00012.3f9c0a1b2c4d`), so a reply names its request
and nobody can make up a token for another one without the key. A reply is matched by the token in any recipient
address, else in its subject (some mail programs drop the Reply-To's +tag).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

DIGEST_CHARS = 12
_TOKEN = re.compile(r"(?P<number>[A-Za-z]{1,8}-[0-9][0-9A-Za-z-]{0,22})\.(?P<digest>[0-9a-f]{12})", re.IGNORECASE)
_ADDRESS = re.compile(r"reply\+(?P<token>[^@\s>]+)@", re.IGNORECASE)
_SUBJECT = re.compile(r"\[(?P<token>[^\]\s]+)\]")


def token_for(secret: str, request_number: str) -> str:
    digest = hmac.new(secret.encode(), request_number.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]
    return f"{request_number}.{digest}"


def reply_address(secret: str, request_number: str, domain: str) -> str:
    return f"reply+{token_for(secret, request_number)}@{domain}"


def subject_with_token(secret: str, request_number: str, subject: str) -> str:
    tag = f"[{token_for(secret, request_number)}]"
    return subject if tag in subject else f"{subject} {tag}"


def request_number_of(secret: str, token: str) -> str | None:
    """The request number `token` names, when its hash is right; None for a made-up or damaged token."""
    found = _TOKEN.fullmatch(token.strip())
    if not found:
        return None
    number = found.group("number").upper()
    return number if hmac.compare_digest(token_for(secret, number), f"{number}.{found.group('digest').lower()}") \
        else None


def tokens_in(recipients: Iterable[str], subject: str) -> list[str]:
    """The candidate tokens of a message: from its recipients' reply+ addresses first, then its subject."""
    found = [m.group("token") for address in recipients for m in _ADDRESS.finditer(address)]
    return found + [m.group("token") for m in _SUBJECT.finditer(subject or "")]
