"""Hostile files uploaded on the Processes → Deploy page (signed in as the process owner `olive`): each is refused
with a clear reason, nothing is stored (every row of every table is unchanged, so no definition version and no audit
event), and no content of a local file ever comes back in the response.

The files are tests/data/hostile/ (each is a valid baseline with one defect) and SpiffArena's own
tests/data/spiffarena/read_etc_passwd.bpmn; the 20 MB upload is generated.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.store.models import AuditEvent, DefinitionVersion
from tests.e2e.conftest import DATA, HOSTILE, count, snapshot
from tests.web import WebUser

PASSWD = Path("/etc/passwd")


def upload(user: WebUser, files: list[tuple[str, bytes]], action: str = "deploy") -> tuple[int, str]:
    data = {"csrf_token": user.token, "action": action, "files": [(io.BytesIO(b), name) for name, b in files]}
    response = user.client.post("/processes/deploy", data=data, content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def no_local_file_content(page: str) -> None:
    assert "root:x:0:0" not in page and "/bin/bash" not in page and "nologin" not in page
    if PASSWD.exists():
        first = PASSWD.read_text(errors="replace").splitlines()[0]
        assert first not in page


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


@dataclass(frozen=True)
class Hostile:
    path: Path
    says: tuple[str, ...]
    element_id: str = ""


CASES = [
    Hostile(HOSTILE / "xxe_local_file.bpmn", ("DOCTYPE", "not allowed")),
    Hostile(HOSTILE / "xxe_utf16.bpmn", ("DOCTYPE", "not allowed")),
    Hostile(HOSTILE / "external_parameter_entity.bpmn", ("DOCTYPE", "not allowed")),
    Hostile(HOSTILE / "billion_laughs.bpmn", ("DOCTYPE", "not allowed")),
    Hostile(HOSTILE / "broken_xml.bpmn", ("malformed XML",)),
    Hostile(HOSTILE / "script_import.bpmn", ("restricted engine", "__import__"), "prepare_data"),
    Hostile(HOSTILE / "script_dunder.bpmn", ("restricted engine", "__subclasses__"), "prepare_data"),
    Hostile(HOSTILE / "script_open.bpmn", ("uses open", "not available to process scripts"), "prepare_data"),
    Hostile(DATA / "spiffarena" / "read_etc_passwd.bpmn", ("uses open, os", "not available to process scripts"),
            "read_etc_passwd"),
    Hostile(HOSTILE / "unknown_operator.bpmn", ("crm.delete_everything", "has no handler"), "send_notice"),
    Hostile(HOSTILE / "not_a_model.xml", ("not a .bpmn",)),
]


@pytest.mark.parametrize("action", ["deploy", "check"])
@pytest.mark.parametrize("case", CASES, ids=[c.path.name for c in CASES])
def test_a_hostile_upload_is_refused_with_its_reason_and_nothing_is_stored(services, olive, case, action):
    before = snapshot(services)
    versions, events = count(services, DefinitionVersion), count(services, AuditEvent)
    status, page = upload(olive, [(case.path.name, case.path.read_bytes())], action)
    assert status == 422, page[-2000:]
    assert "nothing was stored" in page
    row = page[page.index('<tr class="finding error"'):]
    row = row[: row.index("</tr>")]
    assert f'data-file="{case.path.name}"' in row
    for text in case.says:
        assert text in row, row
    assert f'data-element="{case.element_id}"' in row
    no_local_file_content(page)
    assert (count(services, DefinitionVersion), count(services, AuditEvent)) == (versions, events)
    assert snapshot(services) == before


def test_entity_files_are_not_drawn_on_the_refusal_page(services, olive):
    """A document with a DOCTYPE is never handed back to the browser's diagram viewer either."""
    path = HOSTILE / "xxe_local_file.bpmn"
    status, page = upload(olive, [(path.name, path.read_bytes())])
    assert status == 422
    assert "rf-diagrams-data" not in page and "!ENTITY" not in page and "file:///etc/passwd" not in page


def test_a_20_mb_upload_is_refused_as_too_large_on_the_normal_page(services, olive):
    before = snapshot(services)
    big = b'<?xml version="1.0"?>\n<!-- ' + b"x" * (20 * 1024 * 1024) + b" -->\n"
    status, page = upload(olive, [("huge.bpmn", big)])
    assert status == 413
    assert "Too large" in page and "20.0 MB" in page and "limit for a bundle is 10 MB" in page
    assert "<nav" in page and "Processes" in page  # the app's own page, not a bare error
    assert snapshot(services) == before


def test_a_body_over_the_request_limit_gets_the_apps_error_page(services, olive):
    before = snapshot(services)
    status, page = upload(olive, [("huge.bpmn", b"x" * (26 * 1024 * 1024))])
    assert status == 413
    assert "Something is wrong (413)" in page
    assert snapshot(services) == before


def test_a_file_name_with_a_path_is_reduced_to_its_name_and_odd_names_are_refused(services, olive):
    before = snapshot(services)
    status, page = upload(olive, [("<script>x.bpmn", (HOSTILE / "valid_baseline.bpmn").read_bytes())])
    assert status == 422 and "file names may use letters" in page and "<script>x" not in page
    assert snapshot(services) == before
    status, page = upload(olive, [("../../etc/valid_baseline.bpmn", (HOSTILE / "valid_baseline.bpmn").read_bytes())],
                          "check")
    assert status == 200 and "Check passed" in page
    assert snapshot(services) == before


def test_an_upload_without_the_csrf_token_is_refused(services, olive):
    before = snapshot(services)
    data = {"action": "deploy", "files": [(io.BytesIO((HOSTILE / "valid_baseline.bpmn").read_bytes()), "a.bpmn")]}
    response = olive.client.post("/processes/deploy", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert snapshot(services) == before


def test_a_bundle_with_one_hostile_file_stores_none_of_its_files(services, olive):
    before = snapshot(services)
    status, page = upload(olive, [("valid_baseline.bpmn", (HOSTILE / "valid_baseline.bpmn").read_bytes()),
                                  ("xxe_local_file.bpmn", (HOSTILE / "xxe_local_file.bpmn").read_bytes())])
    assert status == 422 and 'data-file="xxe_local_file.bpmn"' in page
    no_local_file_content(page)
    assert snapshot(services) == before


@pytest.mark.parametrize("depth", [50_000, 2_000])
def test_a_form_nested_past_any_sensible_depth_is_refused_not_a_crash(services, olive, depth):
    """JSON nested deeper than Python's recursion limit (the decoder gives up) or just deep enough to exhaust the
    schema checks: a finding naming the form, never a 500."""
    before = snapshot(services)
    deep = '{"type": "object", "properties": {"x": ' + '{"items": ' * depth + "{}" + "}" * depth + "}}"
    for action in ("check", "deploy"):
        status, page = upload(olive, [("valid_baseline.bpmn", (HOSTILE / "valid_baseline.bpmn").read_bytes()),
                                      ("assign_specialist.schema.json", deep.encode())], action)
        assert status == 422, page[:2000]
        assert "assign_specialist.schema.json" in page and "nested" in page
    assert snapshot(services) == before
