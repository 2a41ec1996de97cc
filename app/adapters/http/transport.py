"""JSON over HTTP(S) to one external system, with the failures mapped to what the worker does with them.

Every call is a POST or PUT of a JSON object with `Authorization: Bearer <token>` and `Idempotency-Key: <key>` (the
service task's key, the same on every retry, so the system can answer a repeated call with its first answer
instead of acting twice). What comes back:

- a 2xx answer with a JSON object: returned;
- a 2xx answer that is not a JSON object: `HandlerError` (retried, then an incident);
- no answer within the timeout, no connection, or a 5xx answer (or 408, 425, 429: "try again later"): `HandlerError`,
  so the worker retries with backoff and raises an incident after the last attempt;
- any other answer (a 4xx, a redirect): `Refused`, an incident at once, whose message names the method, the URL path,
  the status and the start of the body on one line, so an administrator sees what the system said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from handlers.base import HandlerError, Refused, one_line

BODY_SHOWN = 300  # characters of an answer's body quoted in an error message
RETRY_STATUSES = frozenset({408, 425, 429})  # 4xx answers that mean "not now" rather than "no"
USER_AGENT = "request-fulfillment/1"


@dataclass(frozen=True)
class Endpoint:
    """Where one system is and how to call it (from the settings, chosen at start-up)."""

    system: str  # as named in messages: "CRM", "billing", "ASD"
    base_url: str  # without the trailing slash
    token: str
    timeout_seconds: float


def segment(value: str) -> str:
    """`value` as one path segment (a case id with a slash or a space stays one segment)."""
    return quote(value, safe="")


class HttpTransport:
    """One system's connection pool, shared by every call (and thread) of the process."""

    def __init__(self, endpoint: Endpoint, client: httpx.Client | None = None) -> None:
        self.endpoint = endpoint
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(endpoint.timeout_seconds), follow_redirects=False,
            headers={"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json",
                     "User-Agent": USER_AGENT})

    def close(self) -> None:
        self.client.close()

    def post(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call("POST", path, body, key)

    def put(self, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return self.call("PUT", path, body, key)

    def call(self, method: str, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        url = self.endpoint.base_url + path
        shown = httpx.URL(url).path  # what messages name: the path, never the host's credentials or a query
        name = self.endpoint.system
        try:
            response = self.client.request(method, url, json=body, headers={"Idempotency-Key": key})
        except httpx.TimeoutException as err:
            raise HandlerError(f"{name} did not answer {method} {shown} within "
                               f"{self.endpoint.timeout_seconds:g} s ({type(err).__name__})") from err
        except httpx.HTTPError as err:  # no connection, a broken connection, a protocol error
            raise HandlerError(f"{name} could not be reached for {method} {shown}: {type(err).__name__}: "
                               f"{one_line(str(err), BODY_SHOWN)}") from err
        status = response.status_code
        answer = f"{method} {shown} answered {status} {httpx.codes.get_reason_phrase(status)}: {self._body(response)}"
        if status >= 500 or status in RETRY_STATUSES:
            raise HandlerError(f"{name} failed: {answer}")
        if not 200 <= status < 300:
            raise Refused(f"{name} refused the call: {answer}")
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise HandlerError(f"{name} answered {method} {shown} with {status} but not a JSON object: "
                               f"{self._body(response)}")
        return data

    @staticmethod
    def _body(response: httpx.Response) -> str:
        try:
            text = response.text
        except (UnicodeDecodeError, LookupError):
            text = repr(response.content[:BODY_SHOWN])
        return one_line(text, BODY_SHOWN) if text.strip() else "(empty body)"


def expect_text(data: dict[str, Any], name: str, endpoint: Endpoint, what: str, max_length: int = 32) -> str:
    """A non-empty one-line string (or a whole number, taken as its text) the system's answer must carry."""
    value = data.get(name)
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value).strip()
        if text and len(text) <= max_length and text.isprintable():
            return text
    raise HandlerError(f"{endpoint.system} answered {what} without a valid {name!r} (text of at most "
                       f"{max_length} characters): "
                       f"{one_line(json.dumps(data, default=str), BODY_SHOWN)}")
