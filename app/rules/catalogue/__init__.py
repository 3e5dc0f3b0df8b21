"""The built-in catalogue of cloud naming rules: data files beside this module, read once per process.

`azure.json` is built from the Azure Naming Tool's table (`azure_build.py`,
MIT licence in azure-naming-tool-LICENSE.txt); `aws.json`, `gcp.json` and
`kubernetes.json` are written by hand from the providers' documentation.
Where the Azure Naming Tool's table contradicts itself, `decided_by` says what
decided the entry's rules ("microsoft": Microsoft's published rule, quoted in
`published_rule` and cited in `decision_source`; "both": no published rule
decides, so both readings apply) and `contradiction` says what disagreed in
one line (README.md beside this module lists every decision).
Every entry cites its source and carries a `version`: a workspace's platform
added from an entry remembers the version, and an entry whose version moved on
offers "update available".
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).parent
FILES = ("azure", "aws", "gcp", "kubernetes")
UNIQUENESS = {
    "global": "Global",
    "account": "Subscription / account / project",
    "resource_group": "Resource group",
    "parent": "Parent resource",
}
DECIDED_BY = {"microsoft": "Microsoft's published rule decides",
              "both": "No published rule decides: both readings apply"}
PLATFORM_FIELDS = ("max_length", "min_length", "allowed_chars", "regex", "lowercase_only", "invalid_first_chars",
                   "invalid_last_chars", "invalid_consecutive_chars")


@dataclass(frozen=True)
class Entry:
    key: str
    provider: str
    name: str
    resource: str
    short_name: str
    min_length: Optional[int]
    max_length: Optional[int]
    allowed_chars: str
    lowercase_only: bool
    regex: str
    source_regex: str
    invalid_first_chars: str
    invalid_last_chars: str
    invalid_consecutive_chars: str
    uniqueness: str
    scope_label: str
    description: str
    source: str
    notes: str
    version: int
    decided_by: str = ""  # "microsoft" (the published rule decided), "both" (both readings apply) or ""
    contradiction: str = ""  # one line: what the table's columns disagree on
    published_rule: str = ""
    decision_source: str = ""

    @property
    def decided_by_label(self) -> str:
        return DECIDED_BY.get(self.decided_by, "")

    @property
    def uniqueness_label(self) -> str:
        return UNIQUENESS.get(self.uniqueness, self.uniqueness)

    def platform_fields(self) -> dict:
        """What a workspace's platform takes from the entry (services.platform_* validate it like a form)."""
        decided = ""
        if self.decided_by:
            decided = f"{self.decided_by_label}: {self.contradiction} Published rule: {self.published_rule}"
            decided += f" ({self.decision_source})" if self.decision_source else ""
        description = " ".join(t for t in (self.description, self.notes, decided,
                                           f"Unique within: {self.scope_label}.", f"Source: {self.source}") if t)
        return {"name": self.name, "description": description, "uniqueness_scope": self.uniqueness,
                **{k: getattr(self, k) for k in PLATFORM_FIELDS}}


def _entry(data: dict, provider: str) -> Entry:
    return Entry(
        key=data["key"], provider=data.get("provider") or provider, name=data["name"],
        resource=data.get("resource", ""), short_name=data.get("short_name", ""),
        min_length=data.get("min_length"), max_length=data.get("max_length"),
        allowed_chars=data.get("allowed_chars", ""), lowercase_only=bool(data.get("lowercase_only")),
        regex=data.get("regex", ""), source_regex=data.get("source_regex") or data.get("regex", ""),
        invalid_first_chars=data.get("invalid_first_chars", ""), invalid_last_chars=data.get("invalid_last_chars", ""),
        invalid_consecutive_chars=data.get("invalid_consecutive_chars", ""),
        uniqueness=data["uniqueness"], scope_label=data.get("scope_label", ""),
        description=data.get("description", ""), source=data["source"], notes=data.get("notes", ""),
        version=int(data.get("version", 1)), decided_by=data.get("decided_by", ""),
        contradiction=data.get("contradiction", ""), published_rule=data.get("published_rule", ""),
        decision_source=data.get("decision_source", ""))


@functools.lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """Every entry, by key, in file order."""
    found: dict[str, Entry] = {}
    for name in FILES:
        document = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
        for data in document["entries"]:
            entry = _entry(data, document["provider"])
            if entry.key in found:
                raise ValueError(f"catalogue key {entry.key} appears twice")
            found[entry.key] = entry
    return found


def providers() -> list[str]:
    return list(dict.fromkeys(e.provider for e in entries().values()))


def get(key: str) -> Optional[Entry]:
    return entries().get(key or "")


def search(q: str = "", provider: str = "") -> list[Entry]:
    """Entries whose name, resource type, short name or key contain every word of `q`."""
    words = (q or "").lower().split()
    found = []
    for entry in entries().values():
        if provider and entry.provider != provider:
            continue
        text = f"{entry.name} {entry.resource} {entry.short_name} {entry.key}".lower()
        if all(word in text for word in words):
            found.append(entry)
    if words:  # the top-level type before its children: "storage account" finds Storage/storageAccounts first
        found.sort(key=lambda e: (e.resource.count("/"), len(e.resource), len(e.name)))
    return found
