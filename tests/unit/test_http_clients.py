"""The HTTP transport's error mapping, without a network (httpx's MockTransport), and the settings that choose it.

Timeouts, no connection and 5xx are HandlerError (retried, then an incident); a 4xx is Refused (an incident at once)
whose message names the method, the path, the status and the start of the body on one line."""

from __future__ import annotations

import json

import httpx
import pytest

from app.adapters.http.transport import Endpoint, HttpTransport, expect_text
from app.bootstrap import remote_systems
from app.config import Settings
from handlers.base import HandlerError, InvalidParams, Refused

ENDPOINT = Endpoint(system="CRM", base_url="https://crm.example/api/rf", token="s3cret", timeout_seconds=2)


def transport(handler) -> HttpTransport:
    client = httpx.Client(transport=httpx.MockTransport(handler), timeout=2,
                          headers={"Authorization": f"Bearer {ENDPOINT.token}"})
    return HttpTransport(ENDPOINT, client)


def answering(status: int, body: str | bytes, content_type: str = "application/json"):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body.encode() if isinstance(body, str) else body,
                              headers={"Content-Type": content_type})
    return handler


def raising(error: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error
    return handler


def test_a_call_sends_the_token_the_idempotency_key_and_the_json_body():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"case_id": "C 1", "status": "in_progress"})

    answer = transport(handler).post("/cases/C%201/take", {"request_number": "RF-000001"}, "task-uuid-1")
    assert answer == {"case_id": "C 1", "status": "in_progress"}
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/api/rf/cases/C 1/take")
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["Idempotency-Key"] == "task-uuid-1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"request_number": "RF-000001"}


def test_a_real_transport_is_built_with_the_bearer_token_and_the_timeout():
    real = HttpTransport(ENDPOINT)
    try:
        assert real.client.headers["Authorization"] == "Bearer s3cret"
        assert real.client.timeout.read == 2 and real.client.follow_redirects is False
    finally:
        real.close()


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_a_server_error_or_try_later_is_retried_not_refused(status):
    with pytest.raises(HandlerError) as caught:
        transport(answering(status, '{"error": "database is down"}')).post("/cases/C-1/close", {}, "k")
    assert not isinstance(caught.value, Refused | InvalidParams)
    assert f"POST /api/rf/cases/C-1/close answered {status}" in str(caught.value)
    assert "database is down" in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_client_error_is_a_refusal_naming_method_path_status_and_body(status):
    body = "case C-1 is locked\r\nby the service desk\n"
    with pytest.raises(Refused) as caught:
        transport(answering(status, body, "text/plain")).post("/cases/C-1/take", {}, "k")
    message = str(caught.value)
    assert message.startswith(f"CRM refused the call: POST /api/rf/cases/C-1/take answered {status} ")
    assert "case C-1 is locked by the service desk" in message  # the body, on one line
    assert "\n" not in message


def test_a_long_body_is_shortened_in_the_message():
    with pytest.raises(Refused) as caught:
        transport(answering(422, "x" * 5000, "text/plain")).post("/cases", {}, "k")
    assert len(str(caught.value)) < 420 and str(caught.value).endswith("…")


def test_a_redirect_is_refused_not_followed():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://login.example/"})
    with pytest.raises(Refused, match="answered 302 Found: \\(empty body\\)"):
        transport(handler).post("/cases", {}, "k")


@pytest.mark.parametrize(("error", "words"), [
    (httpx.ReadTimeout("timed out"), "did not answer POST /api/rf/services within 2 s (ReadTimeout)"),
    (httpx.ConnectTimeout("timed out"), "did not answer POST /api/rf/services within 2 s (ConnectTimeout)"),
    (httpx.ConnectError("[Errno 111] Connection refused"), "could not be reached for POST /api/rf/services: "
                                                          "ConnectError: [Errno 111] Connection refused"),
    (httpx.RemoteProtocolError("Server disconnected"), "could not be reached"),
])
def test_a_timeout_or_no_connection_is_retried(error, words):
    with pytest.raises(HandlerError) as caught:
        transport(raising(error)).post("/services", {}, "k")
    assert not isinstance(caught.value, Refused)
    assert words in str(caught.value)


@pytest.mark.parametrize(("body", "content_type"), [
    ("<html>Gateway login</html>", "text/html"), ("[1, 2]", "application/json"), ("", "application/json"),
    (b"\xff\xfe{", "application/json"), ('"just a string"', "application/json"),
])
def test_an_answer_that_is_not_a_json_object_is_a_clear_handler_error(body, content_type):
    with pytest.raises(HandlerError, match="answered POST /api/rf/cases with 200 but not a JSON object") as caught:
        transport(answering(200, body, content_type)).post("/cases", {}, "k")
    assert not isinstance(caught.value, Refused)


def test_an_answer_without_the_field_the_handler_needs_is_a_handler_error():
    assert expect_text({"case_number": "INV-1"}, "case_number", ENDPOINT, "POST /cases") == "INV-1"
    assert expect_text({"entry_id": 17}, "entry_id", ENDPOINT, "POST /services") == "17"
    for answer in ({}, {"case_number": ""}, {"case_number": True}, {"case_number": "x" * 33},
                   {"case_number": "a\nb"}):
        with pytest.raises(HandlerError, match="CRM answered POST /cases without a valid 'case_number'"):
            expect_text(answer, "case_number", ENDPOINT, "POST /cases")


def test_a_system_is_reached_over_http_only_when_its_url_is_set():
    remote = remote_systems(Settings.from_env({"RF_BILLING_URL": "https://billing.example/v1/",
                                               "RF_BILLING_TOKEN": "b-token", "RF_HTTP_TIMEOUT_SECONDS": "3.5"}))
    try:
        assert remote.crm is None and remote.asd is None and remote.billing is not None
        assert remote.billing.endpoint == Endpoint("billing", "https://billing.example/v1", "b-token", 3.5)
        assert remote.names() == ["billing"]
    finally:
        remote.close()
    assert remote_systems(Settings.from_env({})).names() == []


@pytest.mark.parametrize(("env", "message"), [
    ({"RF_CRM_URL": "crm.example"}, "RF_CRM_URL: 'crm.example' must be an http:// or https:// URL with a host"),
    ({"RF_ASD_URL": "https://asd.example/?x=1", "RF_ASD_TOKEN": "t"}, "without spaces, query or fragment"),
    ({"RF_CRM_URL": "https://crm.example"}, "RF_CRM_TOKEN: must be set when RF_CRM_URL is"),
    ({"RF_CRM_URL": "https://crm.example", "RF_CRM_TOKEN": "two words"}, "RF_CRM_TOKEN: must be printable ASCII"),
    ({"RF_HTTP_TIMEOUT_SECONDS": "soon"}, "RF_HTTP_TIMEOUT_SECONDS: 'soon' is not a number"),
    ({"RF_HTTP_TIMEOUT_SECONDS": "0"}, "RF_HTTP_TIMEOUT_SECONDS: '0' must be above 0 and at most 300"),
    ({"RF_HTTP_TIMEOUT_SECONDS": "301"}, "at most 300"),
    ({"RF_CRM_FEED_SECRET": "short"}, "RF_CRM_FEED_SECRET: must be at least 16 characters"),
])
def test_a_bad_setting_is_refused_with_a_clear_message(env, message):
    with pytest.raises(ValueError, match=None) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_tokens_and_the_feed_secret_never_appear_in_the_settings_repr():
    settings = Settings.from_env({"RF_CRM_URL": "https://crm.example", "RF_CRM_TOKEN": "crm-s3cret",
                                  "RF_CRM_FEED_SECRET": "feed-secret-0123456789"})
    assert settings.crm_token == "crm-s3cret" and settings.crm_feed_secret == "feed-secret-0123456789"
    assert "s3cret" not in repr(settings) and "feed-secret" not in repr(settings)
