"""Posting one webhook delivery over HTTP (httpx). Never raises for what the receiver does: a refused connection, a
timeout, a redirect or an error status all come back as an `HttpOutcome` saying what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

EXCERPT_BYTES = 1000  # what the attempt log keeps of a response; the rest is never read
USER_AGENT = "RequestFulfillment-Webhooks/1"


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None  # None: no HTTP answer (connection refused, timeout…)
    error: str | None
    excerpt: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _read_excerpt(response: httpx.Response) -> str:
    taken = b""
    for chunk in response.iter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpOutcome:
    """POST `body` as JSON to `url`; redirects are not followed (a 3xx is a failed attempt like any non-2xx)."""
    began = time.monotonic()
    status: int | None = None
    excerpt, error = "", None
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, client.stream(
                "POST", url, content=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}) as response:
            status = response.status_code
            try:
                excerpt = _read_excerpt(response)
            except httpx.HTTPError as err:  # the status arrived; the body did not: the status decides
                error = f"reading the response: {type(err).__name__}: {err}"
    except httpx.TimeoutException as err:
        error = f"timed out after {timeout:g} s ({type(err).__name__})"
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}"
    except Exception as err:  # noqa: BLE001 - an odd URL or socket error is this delivery's failure, never the worker's
        error = f"{type(err).__name__}: {err}"
    duration_ms = int((time.monotonic() - began) * 1000)
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"HTTP {status}"
    return HttpOutcome(status, error[:2000] if error else None, excerpt, duration_ms)
