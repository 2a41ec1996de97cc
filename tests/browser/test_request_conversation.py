"""Notes and attachments in Chromium against the real `rf serve`: a specialist writes an internal note and attaches
a file from the request page, a refused file is explained on the page, and the file downloads as an attachment."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # see test_staff_journeys

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_a_specialist_adds_a_note_and_a_file_and_a_program_is_refused(services, clock, staff):
    number = Driver(services, clock).new("assistance")
    sam = staff("sam")
    sam.goto(f"/requests/{number}")
    sam.get_by_label("Add a note").fill("Called Ann: the Tulsa office needs the profile")
    sam.get_by_role("button", name="Add note").click()
    notes = sam.locator("#notes")
    expect(notes).to_contain_text("Called Ann: the Tulsa office needs the profile")
    expect(notes).to_contain_text("Sam Specialist")

    sam.get_by_label("Attach a file").set_input_files(files=[{"name": "setup.pdf", "mimeType": "application/pdf",
                                                               "buffer": b"MZ\x90\x00" + b"\x00" * 60}])
    sam.get_by_role("button", name="Upload", exact=True).click()
    expect(sam.locator("#attachments").get_by_role("alert")).to_contain_text("a Windows program")

    sam.get_by_label("Attach a file").set_input_files(files=[{"name": "Site plan.pdf", "mimeType": "application/pdf",
                                                               "buffer": PDF}])
    sam.get_by_role("button", name="Upload", exact=True).click()
    link = sam.locator("#attachments").get_by_role("link", name="Site_plan.pdf")
    expect(link).to_be_visible()
    with sam.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Site_plan.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == PDF
    expect(sam.locator("#timeline")).to_contain_text("File attached")
    screenshot(sam, "request-notes-and-attachments.png")
