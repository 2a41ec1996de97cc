"""Reading a received email: who sent it, to whom, its subject, its Message-ID, and the text of the reply without
the quoted history below it (email-reply-parser, the port of GitHub's well-known reply parser: it drops quoted
"> " lines, "On … wrote:" headers and signatures). What makes it unusable is said in `problem`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from email_reply_parser import EmailReplyParser

TEXT_MAX = 5000  # what the reply form keeps (forms/await_customer_reply.schema.json)


@dataclass(frozen=True)
class Received:
    message_id: str
    mail_from: str
    recipients: list[str]
    subject: str
    text: str  # the reply without its quoted history ('' when there is none)
    size: int
    problem: str | None  # why it cannot answer a request as it is (None: it can)


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return " ".join(str(msg.get(name, "") or "").split())
    except (TypeError, ValueError, IndexError):  # a header the parser cannot decode
        return ""


def read(content: bytes, envelope_from: str, envelope_to: list[str], max_bytes: int) -> Received:
    msg = BytesParser(policy=policy.default).parsebytes(content)
    assert isinstance(msg, EmailMessage)
    message_id = _header(msg, "Message-ID")[:490] or f"<sha256-{hashlib.sha256(content).hexdigest()}@unnamed>"
    sender = ", ".join(a for _, a in getaddresses([_header(msg, "From")]) if a) or envelope_from or "(unknown)"
    recipients = list(envelope_to) + [a for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if a]
    subject = _header(msg, "Subject")[:490]
    if len(content) > max_bytes:
        return Received(message_id, sender[:320], recipients, subject, "", len(content),
                        f"the message is {len(content) // 1024:,} kB; replies over {max_bytes // 1024:,} kB are "
                        "not read automatically")
    text, problem = _reply_text(msg)
    return Received(message_id, sender[:320], recipients, subject, text, len(content), problem)


def _reply_text(msg: EmailMessage) -> tuple[str, str | None]:
    try:
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else None
    except (LookupError, ValueError, TypeError):
        return "", "the message's text cannot be decoded"
    if not isinstance(body, str):
        return "", "the message has no plain text part (only HTML or attachments)"
    text = EmailReplyParser.parse_reply(body.replace("\r\n", "\n").replace("\x00", "")).strip()
    if not text:
        return "", "the reply is empty once the quoted message is left out"
    if len(text) > TEXT_MAX:
        return text[:TEXT_MAX], f"the reply is {len(text):,} characters long; the reply form keeps at most {TEXT_MAX:,}"
    return text, None
