"""File downloads: the `Content-Disposition` header written by werkzeug's `send_file`, which encodes a name outside
ASCII the RFC 6266 / RFC 5987 way (`filename` an ASCII fallback, `filename*=UTF-8''…` the real name), so no file name
can break the response."""

from __future__ import annotations

import io

from flask import Response, send_file


def attachment(content: bytes, filename: str, mimetype: str) -> Response:
    """`content` as a download named `filename` (never cached, never sniffed); a text `mimetype` is sent as UTF-8."""
    response = send_file(io.BytesIO(content), mimetype=mimetype.split(";", 1)[0], as_attachment=True,
                         download_name=filename, max_age=None, etag=False, last_modified=None, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
