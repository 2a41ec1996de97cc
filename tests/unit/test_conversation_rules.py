"""Issue 15: the pure rules behind notes, attachments and emailed replies: which files may be attached (by content),
the reply token (keyed, matched in an address or subject), and the reply text without its quoted history."""

from __future__ import annotations

import pytest

from app.adapters.inbound_mail import read
from app.domain import reply_tokens
from app.domain.attachment_rules import AttachmentRefused, check
from app.services.requests.attachments import safe_name

KEY = "a-key-for-the-unit-tests-0123456789"


def test_a_token_names_its_request_only_with_the_right_key():
    token = reply_tokens.token_for(KEY, "RF-000012")
    assert token.startswith("RF-000012.") and reply_tokens.request_number_of(KEY, token) == "RF-000012"
    assert reply_tokens.request_number_of("another-key-0123456789", token) is None
    assert reply_tokens.request_number_of(KEY, "RF-000013" + token[9:]) is None  # another request, same digest
    assert reply_tokens.request_number_of(KEY, "garbage") is None


def test_tokens_are_found_in_reply_addresses_then_in_the_subject():
    token = reply_tokens.token_for(KEY, "RF-000012")
    address = reply_tokens.reply_address(KEY, "RF-000012", "replies.example")
    assert reply_tokens.tokens_in([f"Ann <{address}>"], "Re: hello") == [token]
    subject = reply_tokens.subject_with_token(KEY, "RF-000012", "Request RF-000012: we need your reply")
    assert reply_tokens.subject_with_token(KEY, "RF-000012", subject) == subject  # tagged once
    assert reply_tokens.tokens_in(["help@replies.example"], "Re: " + subject) == [token]


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("a.pdf", b"MZ\x90\x00", "Windows program"), ("a.txt", b"#!/usr/bin/env python\n", "script"),
    ("a.png", b"\xcf\xfa\xed\xfe", "Mach-O"), ("a.pdf", b"<html>", "not a .pdf"), ("a.JS", b"x", ".js files"),
    ("a.txt", "caf\xe9".encode("latin-1"), "not UTF-8"), ("a.csv", b"=1,<svg/onload=x>", "web markup"),
    ("a.txt", b"", "empty"), ("a.doc", b"\xd0\xcf\x11\xe0", ".doc files"),
])
def test_files_are_refused_by_what_they_are(name, content, reason):
    with pytest.raises(AttachmentRefused, match=reason):
        check(name, content)


def test_allowed_files_get_the_type_their_content_has():
    assert check("Scan.PDF", b"%PDF-1.4").content_type == "application/pdf"
    assert check("t.csv", b"a,b\n1,2\n").content_type == "text/csv; charset=utf-8"
    assert check("p.gif", b"GIF89a....").content_type == "image/gif"


def test_stored_names_are_safe_and_keep_the_checked_extension():
    assert safe_name("../../etc/passwd.txt", "txt") == "etc_passwd.txt"
    assert safe_name("отчёт.pdf", "pdf") == "attachment.pdf"
    assert safe_name("Site plan (final).PDF", "pdf") == "Site_plan_final.PDF"
    assert safe_name("....", "png") == "attachment.png"


def test_the_reply_text_leaves_out_the_quoted_message_and_signature():
    raw = (b"From: Ann <ann@x.example>\r\nTo: reply+t@r.example\r\nSubject: Re: VPN\r\nMessage-ID: <m1@x>\r\n\r\n"
           b"Tulsa, please.\r\n\r\nOn Tue, Dec 1, 2026 at 9:00 AM RF <rf@omes.example> wrote:\r\n> Which office?\r\n")
    mail = read(raw, "ann@x.example", ["reply+t@r.example"], 1024 * 1024)
    assert (mail.text, mail.problem, mail.message_id, mail.mail_from) == ("Tulsa, please.", None, "<m1@x>",
                                                                          "ann@x.example")
    assert read(raw, "", [], 100).problem is not None  # too large to read automatically
    no_id = read(raw.replace(b"Message-ID: <m1@x>\r\n", b""), "", [], 1024 * 1024)
    assert no_id.message_id.startswith("<sha256-")  # the same message twice still has one identity
