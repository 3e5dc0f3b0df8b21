"""Attachment checks: the type is read from the file's first bytes (magic numbers), not trusted from its name."""
from __future__ import annotations

KINDS = {
    "image": "Images (PNG, JPEG, GIF, WebP)",
    "pdf": "PDF documents",
    "text": "Plain text (txt, csv, log, json)",
    "archive": "ZIP archives and Office documents",
}
DEFAULT_KINDS = tuple(KINDS)
DEFAULT_MAX_MB = 10

# (prefix, offset, content type, kind)
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "image"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "image"),
    (b"GIF87a", 0, "image/gif", "image"),
    (b"GIF89a", 0, "image/gif", "image"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
    (b"PK\x03\x04", 0, "application/zip", "archive"),
)
_OFFICE = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
EXTENSION_KINDS = {
    "png": "image", "jpg": "image", "jpeg": "image", "gif": "image", "webp": "image",
    "pdf": "pdf", "txt": "text", "csv": "text", "log": "text", "json": "text", "md": "text",
    "zip": "archive", **{ext: "archive" for ext in _OFFICE},
}


def sniff(data: bytes, filename: str) -> tuple[str, str] | None:
    """(content type, kind) judged from the content, or None if it is not a type we know."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "image"
    for prefix, offset, content_type, kind in _SIGNATURES:
        if data[offset:offset + len(prefix)] == prefix:
            if content_type == "application/zip" and extension in _OFFICE:
                return _OFFICE[extension], kind
            return content_type, kind
    head = data[:8192]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:  # a multi-byte character cut at the sample's end is fine
                return None
        return ("text/csv" if extension == "csv" else "application/json" if extension == "json"
                else "text/plain"), "text"
    return None


def extension_mismatch(kind: str, filename: str) -> bool:
    """The name promises another kind than the content is (a PDF named photo.png)."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    claimed = EXTENSION_KINDS.get(extension)
    return claimed is not None and claimed != kind
