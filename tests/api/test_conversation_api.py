"""Notes, attachments and notifications through `/api/v1`: the same services and rules as the request page and the
bell. A note and a file written through the API show on the request page; a refused file or note is a 4xx problem
and keeps nothing; a notification is its user's only."""

from __future__ import annotations

import io

from tests.api.api_client import ApiUser, assert_problem, stored
from tests.driver import Driver
from tests.e2e.test_need_to_know import add_users
from tests.web import WebUser

ASSIGN_TO_SAM = {"specialist": "sam", "assignment_note": "Printer"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(user: ApiUser, number: str, name: str, content: bytes) -> object:
    return user.client.post(f"/api/v1/requests/{number}/attachments", data={"file": (io.BytesIO(content), name)},
                            content_type="multipart/form-data", headers=user.headers())


def test_a_note_and_a_file_written_through_the_api_are_the_request_pages(services, clock):
    number = Driver(services, clock).new("assistance")
    sam = ApiUser(services, "sam")
    added = sam.post(f"/api/v1/requests/{number}/notes", json={"body": "  Called the agency: printer on Monday.\r\n"})
    assert added.status_code == 201, added.get_json()
    note = added.get_json()
    assert (note["author"], note["author_name"], note["body"]) == ("sam", "Sam Specialist",
                                                                   "Called the agency: printer on Monday.")
    uploaded = _upload(sam, number, "Site plan.pdf", PDF)
    assert uploaded.status_code == 201, uploaded.get_json()
    file = uploaded.get_json()
    assert (file["filename"], file["content_type"], file["size"]) == ("Site_plan.pdf", "application/pdf", len(PDF))
    assert file["url"] == f"/api/v1/requests/{number}/attachments/{file['id']}"

    audrey = ApiUser(services, "audrey")  # an auditor reads both
    assert [n["body"] for n in audrey.get(f"/api/v1/requests/{number}/notes").get_json()["notes"]] == [
        "Called the agency: printer on Monday."]
    [listed] = audrey.get(f"/api/v1/requests/{number}/attachments").get_json()["attachments"]
    assert listed == file
    download = audrey.get(file["url"])
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    page = WebUser(services, "maria").get(f"/requests/{number}").get_data(as_text=True)
    assert "Called the agency: printer on Monday." in page and "Site_plan.pdf" in page


def test_refused_notes_and_files_are_problems_and_keep_nothing(services, clock):
    add_users(services)
    number = Driver(services, clock).new("assistance")
    sam = ApiUser(services, "sam")
    audrey, gina = ApiUser(services, "audrey"), ApiUser(services, "gina")
    before = stored(services)
    assert_problem(sam.post(f"/api/v1/requests/{number}/notes", json={"body": " \n "}), 422)
    assert_problem(sam.post(f"/api/v1/requests/{number}/notes", json={"body": "x", "extra": 1}), 422)
    assert_problem(sam.post(f"/api/v1/requests/{number}/notes", json={"body": "x" * 10_001}), 422)
    refused = assert_problem(_upload(sam, number, "setup.exe", b"MZ\x90\x00" + bytes(200)), 422)
    assert "setup.exe" in refused["detail"]
    assert_problem(_upload(sam, number, "page.pdf", b"<html><script>alert(1)</script></html>"), 422)
    assert_problem(audrey.post(f"/api/v1/requests/{number}/notes", json={"body": "Hi"}), 403)
    assert_problem(gina.post(f"/api/v1/requests/{number}/notes", json={"body": "Hi"}), 404)
    assert_problem(gina.get(f"/api/v1/requests/{number}/attachments"), 404)
    assert_problem(sam.get(f"/api/v1/requests/{number}/attachments/999999"), 404)
    assert_problem(sam.get("/api/v1/requests/RF-999999/notes"), 404)
    assert stored(services) == before


def test_a_file_over_the_limit_is_413_and_kept_nowhere(services, clock):
    number = Driver(services, clock).new("assistance")
    sam = ApiUser(services, "sam")
    before = stored(services)
    limit = services.settings.attachment_max_bytes
    body = assert_problem(_upload(sam, number, "big.pdf", PDF + bytes(limit)), 413)
    assert "MB" in body["detail"]
    assert stored(services) == before


def test_notifications_are_their_users_only(services, clock):
    drive = Driver(services, clock)
    number = drive.new("assistance")
    drive.work()
    drive.complete(number, "assign_specialist", "maria", ASSIGN_TO_SAM)  # the process assigns sam: a notice
    sam = ApiUser(services, "sam")
    page = sam.get("/api/v1/notifications").get_json()
    [notice] = page["notifications"]
    assert (notice["kind"], notice["request_number"], notice["read"]) == ("task_assigned", number, False)
    assert page["unread"] == 1 and page["total"] == 1
    assert_problem(ApiUser(services, "sara").post(f"/api/v1/notifications/{notice['id']}/read"), 404)
    assert sam.get("/api/v1/notifications").get_json()["unread"] == 1
    marked = sam.post(f"/api/v1/notifications/{notice['id']}/read")
    assert marked.status_code == 200 and marked.get_json() == {"marked": 1, "unread": 0}
    assert sam.get("/api/v1/notifications").get_json()["notifications"][0]["read"] is True
    assert sam.post("/api/v1/notifications/read").get_json() == {"marked": 0, "unread": 0}
    assert_problem(sam.get("/api/v1/notifications?page=0"), 422)
