"""The API reference page (Swagger UI from npm, served by this site) shows every operation of the OpenAPI document
under the Content-Security-Policy, and "Try it out" works with the signed-in session (its CSRF header)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_content_security_policy import violations, watched
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_the_reference_lists_the_operations_and_calls_the_api_as_the_signed_in_user(services, clock, staff):
    number = Driver(services, clock).new("assistance")
    maria = staff("maria")
    messages = watched(maria)
    maria.goto("/api/v1/docs")
    expect(maria.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    spec = maria.request.get("/api/v1/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert spec["openapi"].startswith("3.1") and maria.locator(".swagger-ui .opblock").count() == operations
    assert violations(maria, messages) == []
    listed = maria.request.get(f"/api/v1/requests?q={number}").json()
    assert [r["number"] for r in listed["items"]] == [number]
    # what "Try it out" sends: the page's CSRF token in X-CSRF-Token, with the session cookie
    status = maria.evaluate("""async () => {
        const csrf = document.getElementById("swagger-ui").dataset.csrf;
        const post = (headers) => fetch("/api/v1/requests", {method: "POST", headers: headers,
            body: JSON.stringify({request_type: "assistance", data: {title: "x"}})});
        const without = await post({"Content-Type": "application/json"});
        const withToken = await post({"Content-Type": "application/json", "X-CSRF-Token": csrf});
        return [without.status, withToken.status, (await withToken.json()).errors.length > 0];
    }""")
    assert status == [400, 422, True]  # refused without the header; with it, the API validated the body
