"""Issue 15: internal notes and attachments on a request. Staff of the request's provider group (and administrators)
add notes and files from the request page; auditors read them only; anyone outside the group is told the request
does not exist. A note is audited, shown with its author and local time, and searchable. A file is checked by its
content, kept by the configured storage (database or disk) with its sha256, downloaded as an attachment that is
never sniffed, and listed by reference in the audit export; a refused file leaves nothing behind."""

from __future__ import annotations

import hashlib
import html
import io
import zipfile
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from app.store.models import AuditEvent, RequestAttachment, RequestNote
from tests.driver import Driver
from tests.web import WebUser

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(params=["database", "disk"])
def storage(request) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings, storage, tmp_path):
    return replace(settings, attachment_storage=storage, attachment_dir=tmp_path / "attachments",
                   attachment_max_bytes=64 * 1024)


@pytest.fixture
def number(services, clock) -> str:
    return Driver(services, clock).new("assistance")


def upload(user: WebUser, number: str, name: str, content: bytes):
    return user.client.post(f"/requests/{number}/attachments", data={
        "csrf_token": user.token, "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def count(services, model) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def office(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_staff_add_a_note_shown_with_author_and_local_time_audited_and_searchable(services, number, storage):
    if storage == "disk":
        pytest.skip("notes do not depend on the attachment storage")
    sam = WebUser(services, "sam")
    answer = sam.post(f"/requests/{number}/notes", {"note": "Called Ann: the Tulsa office needs it"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/requests/{number}#notes")
    page = html.unescape(sam.get(f"/requests/{number}").get_data(as_text=True))
    notes = page[page.index('id="notes"'):page.index('id="attachments"')]
    assert "Sam Specialist" in notes and "Called Ann: the Tulsa office needs it" in notes
    assert "CST" in notes  # the author's time, in the reader's zone
    timeline = page[page.index('id="timeline"'):]
    assert "Internal note" in timeline and "Called Ann" in timeline
    with services.uow() as uow:
        event = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "note_added")).one()
        assert (event.actor, event.payload["text"]) == ("sam", "Called Ann: the Tulsa office needs it")
    found = sam.get("/requests?q=tulsa").get_data(as_text=True)
    assert number in found


def test_an_empty_or_too_long_note_is_refused_with_a_message_and_nothing_kept(services, number, storage):
    if storage == "disk":
        pytest.skip("notes do not depend on the attachment storage")
    sam = WebUser(services, "sam")
    empty = sam.post(f"/requests/{number}/notes", {"note": "   \n "})
    assert empty.status_code == 422 and "the note is empty" in empty.get_data(as_text=True)
    long = sam.post(f"/requests/{number}/notes", {"note": "x" * 10_001})
    assert long.status_code == 422 and "at most 10,000" in html.unescape(long.get_data(as_text=True))
    assert count(services, RequestNote) == 0


def test_auditors_read_notes_and_files_but_add_nothing_and_other_groups_see_nothing(services, clock, number,
                                                                                   storage):
    sam = WebUser(services, "sam")
    sam.post(f"/requests/{number}/notes", {"note": "Internal: check the firewall"})
    assert upload(sam, number, "plan.pdf", PDF).status_code == 302
    [attachment_id] = [a for (a,) in _ids(services)]

    audrey = WebUser(services, "audrey")
    page = audrey.get(f"/requests/{number}").get_data(as_text=True)
    assert "Internal: check the firewall" in page and "plan.pdf" in page
    assert 'action="/requests/' + number + '/notes"' not in page  # no form for a read-only reader
    assert audrey.post(f"/requests/{number}/notes", {"note": "auditor was here"}).status_code == 403
    assert upload(audrey, number, "more.pdf", PDF).status_code == 403
    assert audrey.get(f"/requests/{number}/attachments/{attachment_id}").status_code == 200

    other = Driver(services, clock).new("assistance", provider_group="apps")  # sam is in network only
    assert sam.get(f"/requests/{other}").status_code == 404
    assert sam.post(f"/requests/{other}/notes", {"note": "peek"}).status_code == 404
    assert upload(sam, other, "plan.pdf", PDF).status_code == 404
    assert sam.get(f"/requests/{other}/attachments/{attachment_id}").status_code == 404  # not its request's file
    assert count(services, RequestNote) == 1 and count(services, RequestAttachment) == 1


def _ids(services):
    with services.uow() as uow:
        return list(uow.session.execute(select(RequestAttachment.id)))


def test_an_attached_file_is_kept_with_its_sha256_and_downloaded_as_an_attachment(services, number, storage,
                                                                                  settings):
    sam = WebUser(services, "sam")
    assert upload(sam, number, "../../Site plan (final).pdf", PDF).status_code == 302
    with services.uow() as uow:
        row = uow.session.scalars(select(RequestAttachment)).one()
        assert (row.filename, row.size, row.sha256, row.storage) == (
            "Site_plan_final.pdf", len(PDF), hashlib.sha256(PDF).hexdigest(), storage)
        attachment_id, key = row.id, row.storage_key
    on_disk = list((settings.attachment_dir).rglob("*")) if settings.attachment_dir.exists() else []
    assert bool([p for p in on_disk if p.is_file()]) == (storage == "disk")
    if storage == "disk":
        assert (settings.attachment_dir / key[:2] / key).read_bytes() == PDF

    got = sam.get(f"/requests/{number}/attachments/{attachment_id}")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert "Site_plan_final.pdf" in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Type"] == "application/pdf"

    export = WebUser(services, "audrey").get(f"/audit/export/csv?request={number}").get_data(as_text=True)
    assert "attachment_added" in export and hashlib.sha256(PDF).hexdigest() in export
    assert "Site_plan_final.pdf" in export and ",sam," in export


HOSTILE = [
    ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 60, "a Windows program"),
    ("tool.exe", PDF, ".exe files may not be attached"),
    ("notes.txt", b"#!/bin/sh\nrm -rf /\n", "a script"),
    ("run.sh", b"echo hi\n", ".sh files may not be attached"),
    ("readme.txt", b"hello <script>alert(1)</script>", "web markup or script"),
    ("logo.svg", b"<svg onload=alert(1)></svg>", ".svg files may not be attached"),
    ("page.html", b"<html></html>", ".html files may not be attached"),
    ("photo.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "a Linux program"),
    ("app.jar", b"PK\x03\x04", ".jar files may not be attached"),
    ("budget.xlsx", office({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>",
                            "xl/vbaProject.bin": b"macro"}), "contains macros"),
    ("fake.docx", office({"META-INF/MANIFEST.MF": b"Main-Class: x"}), "is not a .docx file"),
    ("data.bin", b"\x00\x01", ".bin files may not be attached"),
    ("README", b"text", "files without an extension"),
]


@pytest.mark.parametrize(("name", "content", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_file_is_refused_by_its_content_and_nothing_is_kept(services, number, storage, settings, name,
                                                                      content, message):
    answer = upload(WebUser(services, "sam"), number, name, content)
    assert answer.status_code == 422, answer.get_data(as_text=True)[:500]
    assert message in html.unescape(answer.get_data(as_text=True))
    assert count(services, RequestAttachment) == 0
    assert not settings.attachment_dir.exists() or not [p for p in settings.attachment_dir.rglob("*") if p.is_file()]


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(services, number, storage, settings):
    answer = upload(WebUser(services, "sam"), number, "big.txt", b"a" * (64 * 1024 + 1))
    assert answer.status_code == 413 and "larger than" in answer.get_data(as_text=True)
    assert count(services, RequestAttachment) == 0
    assert not settings.attachment_dir.exists() or not [p for p in settings.attachment_dir.rglob("*") if p.is_file()]


def test_office_documents_images_and_csv_are_accepted(services, number, storage):
    sam = WebUser(services, "sam")
    docx = office({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    for name, content in [("report.docx", docx), ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20),
                          ("figures.csv", b"region,total\nTulsa,12\n"), ("scan.jpg", b"\xff\xd8\xff\xe0")]:
        assert upload(sam, number, name, content).status_code == 302, name
    assert count(services, RequestAttachment) == 4
