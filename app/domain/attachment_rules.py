"""Which files may be attached to a request: decided from their content, not only their name.

Allowed: PDF; PNG, JPEG, GIF and WebP images; plain text, CSV, Markdown and log files (UTF-8 text without markup or
a shebang); Word, Excel and PowerPoint files of the Office Open XML kind (.docx, .xlsx, .pptx, without macros) and
OpenDocument text, spreadsheets and presentations. The file's first bytes must be what its extension says.

Refused whatever it is called: programs (Windows PE "MZ", ELF, Mach-O, Java classes), scripts (a "#!" line, and the
extensions of Windows, shell, PowerShell and JavaScript scripts), installers and libraries, HTML and SVG (a browser
runs their scripts), archives that are not an office document (a .jar is a zip), Office files with macros (a
vbaProject.bin part) and the older binary Office formats (.doc, .xls, .ppt: they carry macros that cannot be seen
without parsing them).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

IMAGES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
TEXT = {"txt": "text/plain", "csv": "text/csv", "md": "text/markdown", "log": "text/plain"}
OOXML = {"docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "word/"),
         "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xl/"),
         "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "ppt/")}
OPEN_DOCUMENT = {"odt": "application/vnd.oasis.opendocument.text",
                 "ods": "application/vnd.oasis.opendocument.spreadsheet",
                 "odp": "application/vnd.oasis.opendocument.presentation"}
ALLOWED_EXTENSIONS = ("pdf", *IMAGES, *TEXT, *OOXML, *OPEN_DOCUMENT)

REFUSED_EXTENSIONS = frozenset({
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "dll", "sys", "cpl", "js", "jse", "mjs", "vbs", "vbe",
    "wsf", "wsh", "hta", "ps1", "psm1", "sh", "bash", "zsh", "csh", "py", "pl", "rb", "php", "jar", "class", "apk",
    "app", "dmg", "pkg", "deb", "rpm", "elf", "so", "dylib", "bin", "run", "lnk", "reg", "html", "htm", "xhtml",
    "svg", "svgz", "xml", "docm", "xlsm", "pptm", "dotm", "xltm", "doc", "xls", "ppt", "iso", "zip"})

_EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows program (PE)"), (b"\x7fELF", "a Linux program (ELF)"),
    (b"\xfe\xed\xfa\xce", "a macOS program (Mach-O)"), (b"\xfe\xed\xfa\xcf", "a macOS program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS program (Mach-O)"), (b"\xcf\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS universal program or Java class"), (b"#!", "a script (it starts with #!)"),
    (b"\xd0\xcf\x11\xe0", "an old binary Office file (it may carry macros)"))
_MARKUP = (b"<script", b"<html", b"<!doctype html", b"<svg", b"<?xml", b"<iframe", b"<object", b"<embed",
           b"javascript:")


class AttachmentRefused(ValueError):
    """The file may not be attached; the message says why, in words for the person who chose it."""


@dataclass(frozen=True)
class Accepted:
    extension: str
    content_type: str


def extension_of(filename: str) -> str:
    name = filename.strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check(filename: str, content: bytes) -> Accepted:
    """The file's type when it may be attached; AttachmentRefused with the reason otherwise."""
    if not content:
        raise AttachmentRefused("the file is empty")
    extension = extension_of(filename)
    if extension in REFUSED_EXTENSIONS:
        raise AttachmentRefused(f".{extension} files may not be attached (programs, scripts, web pages, archives "
                                "and files with macros are refused)")
    for magic, what in _EXECUTABLE_MAGIC:
        if content.startswith(magic):
            raise AttachmentRefused(f"the file is {what}, whatever its name says")
    if extension not in ALLOWED_EXTENSIONS:
        shown = f".{extension} files" if extension else "files without an extension"
        allowed = ", ".join(f".{e}" for e in ALLOWED_EXTENSIONS)
        raise AttachmentRefused(f"{shown} may not be attached; allowed: {allowed}")
    if extension == "pdf":
        return _expect(content.startswith(b"%PDF-"), extension, "application/pdf")
    if extension in IMAGES:
        return _expect(_is_image(extension, content), extension, IMAGES[extension])
    if extension in TEXT:
        _check_text(content, extension)
        return Accepted(extension, TEXT[extension] + "; charset=utf-8")
    if extension in OOXML:
        content_type, folder = OOXML[extension]
        _check_office(content, extension, lambda names: "[Content_Types].xml" in names and any(
            n.startswith(folder) for n in names))
        return Accepted(extension, content_type)
    _check_office(content, extension, lambda names: "mimetype" in names)
    return Accepted(extension, OPEN_DOCUMENT[extension])


def _expect(ok: bool, extension: str, content_type: str) -> Accepted:
    if not ok:
        raise AttachmentRefused(f"the file's content is not a .{extension} file, whatever its name says")
    return Accepted(extension, content_type)


def _is_image(extension: str, content: bytes) -> bool:
    if extension == "png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    if extension in ("jpg", "jpeg"):
        return content.startswith(b"\xff\xd8\xff")
    if extension == "gif":
        return content[:6] in (b"GIF87a", b"GIF89a")
    return content[:4] == b"RIFF" and content[8:12] == b"WEBP"


def _check_text(content: bytes, extension: str) -> None:
    if b"\x00" in content:
        raise AttachmentRefused(f"the file is not text (it holds binary data), whatever its name says (.{extension})")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttachmentRefused("the text file is not UTF-8; save it as UTF-8 and attach it again") from None
    lowered = text.lower().encode()
    if any(marker in lowered for marker in _MARKUP):
        raise AttachmentRefused("the text file holds web markup or script (HTML, SVG, XML or JavaScript)")


def _check_office(content: bytes, extension: str, looks_right: object) -> None:
    if not content.startswith(b"PK\x03\x04"):
        raise AttachmentRefused(f"the file's content is not a .{extension} file, whatever its name says")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise AttachmentRefused(f"the .{extension} file is damaged (it does not open as an office file)") from None
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise AttachmentRefused("the office file contains macros; save it without macros and attach it again")
    if any(n.lower().endswith((".exe", ".dll", ".js", ".bat", ".ps1", ".class")) for n in names):
        raise AttachmentRefused("the office file contains a program or script")
    if not (callable(looks_right) and looks_right(names)):
        raise AttachmentRefused(f"the file's content is not a .{extension} file, whatever its name says")
