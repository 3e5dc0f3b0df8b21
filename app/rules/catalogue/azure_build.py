"""Build azure.json from the Azure Naming Tool's resource-type table (a maintainer's tool, not run by the app).

    python -m app.rules.catalogue.azure_build  # reads azure-naming-tool-resourcetypes.json beside it

The table (github.com/mspnp/AzureNamingTool, src/repository/resourcetypes.json,
MIT licence: azure-naming-tool-LICENSE.txt) gives each type's CAF short name,
lengths, regex, invalid characters and uniqueness scope. Each entry here says
what Cairn's platform needs: the allowed characters (read from the regex's
character classes, so the renderer can repair instead of only refusing),
lowercase only (a regex with a-z and no A-Z: the renderer lowercases), the
invalid first/last/repeated characters (the table's own, plus the regex's
negative lookaheads, which become those constraints so the stored regex needs
no lookaround), and the uniqueness scope. Where the table contradicts itself
the stricter reading applies (both rules are enforced) and the entry's notes
say so; Microsoft's published rules page is cited with every entry.
"""
from __future__ import annotations

import json
import re._constants as C  # the standard library's regex parser: what the regex allows, read structurally
import re._parser as P
from pathlib import Path

from app.rules.renderer import charset

HERE = Path(__file__).parent
SOURCE = HERE / "azure-naming-tool-resourcetypes.json"
TARGET = HERE / "azure.json"
COMMIT = "3e6badcb31ed61002f8ade00dd2dc6aa2d93cc17"
SOURCE_URL = f"https://github.com/mspnp/AzureNamingTool/blob/{COMMIT}/src/repository/resourcetypes.json"
RULES_URL = "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"
VERSION = 1

# Negative lookaheads the table uses, and the constraint each one is.
LOOKAHEADS = {
    r"(?!.* $)": ("last", " "), r"(?!.*[\.]$)": ("last", "."), r"(?!.*[.]$)": ("last", "."),
    r"(?!.*-$)": ("last", "-"), r"(?!-.*)": ("first", "-"), r"(?!.*-{2}.*)": ("repeat", "-"),
    r"(?!_.*$)": ("first", "_"), r"(?!.*[-\.]$)": ("last", "-."), r"(?!.*[-.]$)": ("last", "-."),
    r"(?!\/)": ("first", "/"),
}
SCOPES = {"global": "global", "subscription": "account", "tenant": "account", "region": "account",
          "resource group": "resource_group", "resource group & region": "resource_group"}


def _class_items(tree, positive: set, negated: set) -> bool:
    """Collect the characters a parsed regex allows; False when it allows any character ('.')."""
    for op, arg in tree:
        if op is C.IN:
            items = [i for i in arg if i[0] is not C.NEGATE]
            (negated if any(i[0] is C.NEGATE for i in arg) else positive).update(_items(items))
        elif op is C.LITERAL:
            positive.add(("lit", arg))
        elif op is C.NOT_LITERAL:  # the parser's form of a one-character negated class, [^%]
            negated.add(("lit", arg))
        elif op is C.ANY:
            return False
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            if not _class_items(arg[2], positive, negated):
                return False
        elif op is C.SUBPATTERN:
            if not _class_items(arg[-1], positive, negated):
                return False
        elif op is C.BRANCH:
            for branch in arg[1]:
                if not _class_items(branch, positive, negated):
                    return False
    return True


def _items(items) -> set:
    out = set()
    for op, arg in items:
        if op is C.LITERAL:
            out.add(("lit", arg))
        elif op is C.RANGE:
            out.add(("range", arg))
        elif op is C.CATEGORY:
            out.add(("cat", {C.CATEGORY_DIGIT: "\\d", C.CATEGORY_WORD: "\\w", C.CATEGORY_SPACE: "\\s"}[arg]))
    return out


def _body(items: set) -> str:
    """A CharSet body for the items: ranges first, then single characters, a dash last."""
    def esc(code: int) -> str:
        ch = chr(code)
        return "\\" + ch if ch in "\\^-" else ch
    ranges = sorted(arg for kind, arg in items if kind == "range")
    singles = sorted(arg for kind, arg in items if kind == "lit" and not any(lo <= arg <= hi for lo, hi in ranges))
    cats = sorted(arg for kind, arg in items if kind == "cat")
    text = "".join(f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges) + "".join(cats)
    text += "".join(esc(c) for c in singles if chr(c) != "-")
    return text + ("-" if ord("-") in singles else "")


def _allowed(regex: str, invalid: str) -> tuple[str, bool]:
    """(allowed-characters body, lowercase only) read from the regex and the table's invalid characters."""
    positive: set = set()
    negated: set = set()
    if not regex or not _class_items(P.parse(regex), positive, negated):
        return ("^" + _body({("lit", ord(c)) for c in invalid}) if invalid else ""), False
    if negated:
        return "^" + _body(negated | {("lit", ord(c)) for c in invalid}), False
    positive = {i for i in positive if not (i[0] == "lit" and chr(i[1]) in invalid)}
    if not positive:
        return ("^" + _body({("lit", ord(c)) for c in invalid}) if invalid else ""), False
    lower = any(k == "range" and a == (97, 122) for k, a in positive) and not any(
        k == "range" and a[0] <= 90 and a[1] >= 65 for k, a in positive) and not any(k == "cat" for k, _ in positive)
    return _body(positive), lower


def _int(text) -> int | None:
    return int(text) if str(text or "").strip().isdigit() else None


def entry(row: dict) -> dict:
    source_regex = row.get("regx") or row.get("Regx") or ""
    regex = source_regex
    edges = {"first": row.get("invalidCharactersStart", ""), "last": row.get("invalidCharactersEnd", ""),
             "repeat": row.get("invalidCharactersConsecutive", "")}
    for lookahead, (where, chars) in LOOKAHEADS.items():
        if lookahead in regex:
            regex = regex.replace(lookahead, "")
            edges[where] += "".join(c for c in chars if c not in edges[where])
    invalid = row.get("invalidCharacters", "")
    allowed, lower = _allowed(regex, invalid)
    notes = []
    low, high = _int(row.get("lengthMin")), _int(row.get("lengthMax"))
    if regex:
        regex_min, regex_max = P.parse(regex).getwidth()
        if low is not None and regex_min > low:
            notes.append(f"The table's minimum length is {low} but its regex needs {regex_min}: both apply.")
        if high is not None and regex_max < high:
            notes.append(f"The table's maximum length is {high} but its regex allows {regex_max}: both apply.")
        low = max(low or 0, regex_min) or None
        high = min(x for x in (high, regex_max) if x is not None)
        high = None if high >= C.MAXREPEAT else high
    if high is not None and high > 255:
        notes.append(f"Azure allows {high} characters; Cairn stores names of at most 255.")
        high = 255
    regex_allows = _allowed(regex, "")[0] if regex else ""
    bad = [c for c in invalid if regex and (charset(regex_allows) is None or charset(regex_allows).allows(c))]
    if bad:
        notes.append(f"The table's regex allows {' '.join(bad)}, which its invalid characters forbid: forbidden.")
    if regex != source_regex:
        notes.append("The regex's lookaheads are kept as invalid first, last or repeated characters.")
    if row.get("staticValues"):
        notes.append(f"Azure expects a fixed value here: {row['staticValues']}.")
    scope_text = (row.get("scope") or "").strip()
    if not scope_text:
        notes.append("The table gives no uniqueness scope: the resource group is assumed.")
    resource = row["resource"]
    name = f"Azure {resource}" + (f" {row['property']}" if row.get("property") else "")
    name += f" ({row['ShortName']})" if row.get("ShortName") else ""
    return {
        "key": f"azure/{resource}" + (f"#{row['property']}" if row.get("property") else ""),
        "provider": "Azure", "name": name[:120], "resource": f"Microsoft.{resource}",
        "short_name": row.get("ShortName", ""), "min_length": low, "max_length": high,
        "allowed_chars": allowed, "lowercase_only": lower, "regex": regex, "source_regex": source_regex,
        "invalid_first_chars": edges["first"], "invalid_last_chars": edges["last"],
        "invalid_consecutive_chars": edges["repeat"],
        "uniqueness": SCOPES.get(scope_text.lower(), "resource_group" if not scope_text else "parent"),
        "scope_label": scope_text or "resource group",
        "description": " ".join(t for t in (row.get("validText", ""), row.get("invalidText", "")) if t),
        "source": f"Azure Naming Tool resourcetypes.json, id {row['id']} ({SOURCE_URL}, MIT); {RULES_URL}",
        "notes": " ".join(notes), "version": VERSION,
    }


def build() -> dict:
    rows = json.loads(SOURCE.read_text(encoding="utf-8"))
    return {"catalogue": "azure", "provider": "Azure", "title": "Azure (Azure Naming Tool)",
            "source": SOURCE_URL, "licence": "MIT (azure-naming-tool-LICENSE.txt)", "published_rules": RULES_URL,
            "entries": [entry(row) for row in rows]}


if __name__ == "__main__":
    TARGET.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")
