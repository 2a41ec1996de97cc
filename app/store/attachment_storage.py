"""Where the bytes of attachments live: one interface, two implementations, chosen by RF_ATTACHMENT_STORAGE.

* `DatabaseStorage` (the default): in the attachment's own row (`request_attachment.content`). Nothing else to back
  up, and the file is written in the same transaction as its row, so an upload is all there or not at all.
* `DiskStorage`: a file per attachment under RF_ATTACHMENT_DIR, named by a random key (never by the uploaded
  name). The file is written before the row's transaction commits and removed again when it does not, so a failed
  upload leaves nothing behind; a crash between the two can leave an orphan file, never a row without its file.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from app.store.models import RequestAttachment


class AttachmentStorage(Protocol):
    name: str

    def put(self, session: Session, row: RequestAttachment, content: bytes) -> None:
        """Keep `content` for `row` (not yet flushed); sets row.storage and row.storage_key."""

    def get(self, session: Session, row: RequestAttachment) -> bytes: ...

    def forget(self, row: RequestAttachment) -> None:
        """Undo `put` after the transaction failed (nothing to do when the bytes were in it)."""


class DatabaseStorage:
    name = "database"

    def put(self, session: Session, row: RequestAttachment, content: bytes) -> None:
        row.storage, row.storage_key, row.content = self.name, "", content

    def get(self, session: Session, row: RequestAttachment) -> bytes:
        return row.content or b""

    def forget(self, row: RequestAttachment) -> None:
        return None


class DiskStorage:
    name = "disk"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise FileNotFoundError(key)
        return self.folder / key[:2] / key

    def put(self, session: Session, row: RequestAttachment, content: bytes) -> None:
        key = secrets.token_hex(20)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(content)
        temporary.replace(path)
        row.storage, row.storage_key, row.content = self.name, key, None

    def get(self, session: Session, row: RequestAttachment) -> bytes:
        return self._path(row.storage_key).read_bytes()

    def forget(self, row: RequestAttachment) -> None:
        if row.storage_key:
            self._path(row.storage_key).unlink(missing_ok=True)


def storage_for(kind: str, folder: Path) -> AttachmentStorage:
    return DiskStorage(folder) if kind == "disk" else DatabaseStorage()


def reader_of(row: RequestAttachment, folder: Path) -> AttachmentStorage:
    """The storage that holds `row` (it may differ from today's setting: rows keep where they were written)."""
    return storage_for(row.storage, folder)
