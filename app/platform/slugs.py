"""URL and file-name slugs: ASCII lower case and hyphens, accents folded ("Économie" -> "economie")."""
from __future__ import annotations

import re
import unicodedata


def slugify(text: str, fallback: str = "item") -> str:
    """At most 60 characters of [a-z0-9-]; `fallback` when nothing is left (a name in another script).

    Accents are folded before anything else: dropping the non-ASCII letter instead split a word ("th-se")
    or lost its first letter ("conomie")."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or fallback
