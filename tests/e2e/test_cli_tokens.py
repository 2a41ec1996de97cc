"""`rf token`: create (printed once), list, revoke; the same rules as the pages."""

from __future__ import annotations


def test_rf_token_create_list_revoke(rf, services):
    made = rf.ok("token", "create", "--name", "nightly export", "--user", "adam", "--owner", "audrey",
                 "--kind", "service")
    assert made["token"].startswith("rf_") and made["owner"] == "audrey" and made["kind"] == "service"
    listed = rf.ok("token", "list", "--user", "audrey")
    assert [t["name"] for t in listed] == ["nightly export"] and "token" not in listed[0]
    assert rf.ok("token", "revoke", str(made["id"]), "--user", "audrey")["state"] == "revoked"
    assert "only an administrator" in rf.fails("token", "create", "--name", "x", "--user", "sam", "--kind",
                                               "service").output
