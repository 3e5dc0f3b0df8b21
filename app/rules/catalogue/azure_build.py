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
no lookaround), and the uniqueness scope. Every stored regex is one RE2 reads
(`REWRITES`: the table's three that RE2 can't are rewritten into equivalent
separate rules, proven by tests/rules/test_catalogue_rules.py).

Where the table contradicts itself (its regex against its length, character or
text columns), Microsoft's published rule decides (`PUBLISHED`): the entry
enforces that rule, says `decided_by: "microsoft"`, cites the published text
and notes the contradiction in one line. Where the published rule is too vague
to decide (`UNDECIDED`), both readings apply and the entry says so. The
decisions are listed in app/rules/catalogue/README.md.
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
CHANGED_VERSION = 2  # entries whose rules moved when the published rule decided (or RE2 rewrote them)

# Microsoft's published naming rules, as read for the decisions below (the live page is RULES_URL).
DOCS_PATH = "articles/azure-resource-manager/management/resource-name-rules.md"
DOCS = ("https://github.com/xtqqczze/MicrosoftDocs-azure-docs/blob/0d589b2126d6bf76b10cf7b057f2ab8194e6a2e8/"
        + DOCS_PATH + " (a mirror of MicrosoftDocs/azure-docs)")
DOCS_2020 = "https://github.com/MicrosoftDocs/azure-docs/blob/0010dc26241bb4932e606b2add027c294bb110ae/" + DOCS_PATH
VM_FORBIDDEN = r"""~!@#$%^&*()=+_[]{} \\|;:.'",<>/?"""  # a character-set body after "^": \\ is one backslash
DIGITS = "0123456789"


def _vm(max_length: int, first: str, last: str, rule: str, contradiction: str) -> dict:
    return {"min_length": 1, "max_length": max_length, "allowed_chars": "^" + VM_FORBIDDEN,
            "invalid_first_chars": first, "invalid_last_chars": last, "rule": rule, "contradiction": contradiction}


_VM_CHARS = ("Can't use spaces, control characters, or ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , "
             "< > / ?.")
_VM_TABLE = "The table's regex allows {allows} which its invalid characters forbid; both allow {both}, which the " \
            "published rule forbids."
_VMSS_BOTH = "~ ! # $ % ^ ( ) { } \\ periods and underscores (after the first character)"
_DNS = {"min_length": 3, "max_length": 63, "allowed_chars": "0-9A-Za-z_.-", "invalid_first_chars": ".",
        "invalid_last_chars": ".", "invalid_consecutive_chars": ".",
        "regex": r"^[a-zA-Z0-9_-]+(?:\.[a-zA-Z0-9_-]+){1,33}$",
        "rule": "1-63 characters, 2 to 34 labels separated by periods; each label alphanumerics, underscores and "
                "hyphens (two labels make at least 3 characters).",
        "contradiction": "The table says 1-63 characters, but its regex needs at least 3 and sets no maximum."}
_ML = {"min_length": 1, "max_length": 260, "allowed_chars": r"^<>*%&:?+/\\", "invalid_last_chars": " ",
       "rule": "1-260; can't use < > * % & : ? + / \\ or control characters; can't end with a space.",
       "contradiction": "The table's invalid characters forbid \\, which its regex allows."}
_CUSTOM = {"allowed_chars": r"^%&\\?/", "invalid_last_chars": ". ", "invalid_consecutive_chars": "",
           "rule": "Can't use % & \\ ? / or control characters; can't end with a period or space (nothing about "
                   "repeated characters)."}
_LOG_ANALYTICS = {"min_length": 4, "max_length": 63, "allowed_chars": "0-9A-Za-z-", "invalid_first_chars": "-",
                  "invalid_last_chars": "-", "rule": "4-63; alphanumerics and hyphens; start and end with alphanumeric.",
                  "contradiction": "The table's text says start and end with alphanumeric; its regex allows a hyphen "
                                   "at either end."}

# The table's ids where it contradicts itself, and Microsoft's published rule that decides each one.
PUBLISHED: dict[int, dict] = {
    58: {"min_length": 2, "max_length": 20, "allowed_chars": "0-9a-z", "lowercase_only": True,
         "invalid_first_chars": DIGITS, "source": DOCS_2020,
         "rule": "2-20; lowercase letters and numbers; start with a lowercase letter.",
         "contradiction": "The table says 2-20 characters; its regex ^[a-z][a-z0-9]{2,24}$ says 3-25."},
    85: _vm(64, "", "-", "1-64 (Linux). " + _VM_CHARS + " Linux VMs can't end with a period or hyphen.",
            _VM_TABLE.format(allows="\\ ' \"", both="~ ! # $ % ^ ( ) { } spaces and periods")),
    86: _vm(15, "", "-", "1-15 (Windows). " + _VM_CHARS + " Windows VMs can't include periods or end with a hyphen.",
            _VM_TABLE.format(allows="\\ ' \"", both="~ ! # $ % ^ ( ) { }")),
    87: _vm(64, "_", "-", "1-64 (Linux). " + _VM_CHARS + " Can't start with underscore; can't end with a period "
            "or hyphen.", _VM_TABLE.format(allows="\" '", both=_VMSS_BOTH)),
    88: _vm(15, "_", "-", "1-15 (Windows). " + _VM_CHARS + " Can't start with underscore; can't end with a period "
            "or hyphen.", _VM_TABLE.format(allows="'", both=_VMSS_BOTH)),
    101: {"min_length": 1, "max_length": 50, "allowed_chars": "0-9A-Za-z_.", "invalid_first_chars": "_.",
          "invalid_last_chars": "_.", "rule": "1-50; alphanumerics, underscores and periods; start and end with "
          "alphanumeric.", "contradiction": "The table's text says alphanumerics, underscores and periods; its "
          "regex allows hyphens and no periods."},
    113: {**_CUSTOM, "min_length": 1, "max_length": 180, "rule": "1-180. " + _CUSTOM["rule"],
          "contradiction": "The table forbids repeated periods and spaces, which its regex allows."},
    114: {**_CUSTOM, "min_length": 3, "max_length": 64, "rule": "3-64. " + _CUSTOM["rule"],
          "contradiction": "The table says 3-64 characters and no repeated periods or spaces; its regex needs 4 "
                           "and allows repeats."},
    203: _ML, 204: _ML, 205: _ML,
    221: _DNS, 235: _DNS,
    247: {"min_length": 2, "max_length": 64, "allowed_chars": "0-9A-Za-z_.-", "invalid_first_chars": "_.-",
          "invalid_last_chars": ".-", "rule": "2-64; alphanumerics, underscores, periods and hyphens; start with "
          "alphanumeric; end with alphanumeric or underscore.",
          "contradiction": "The table says 2-64 characters; its regex says 1-80."},
    254: {"min_length": 6, "max_length": 50, "allowed_chars": "0-9A-Za-z-", "invalid_first_chars": DIGITS + "-",
          "invalid_last_chars": "-", "rule": "6-50; alphanumerics and hyphens; start with a letter; end with "
          "alphanumeric.", "contradiction": "The table's text says start with a letter and end with "
          "alphanumeric; its regex allows a digit or hyphen first and a hyphen last."},
    258: _LOG_ANALYTICS, 259: _LOG_ANALYTICS,
    263: {"min_length": 3, "max_length": 63, "allowed_chars": "0-9a-z", "lowercase_only": True,
          "invalid_first_chars": DIGITS, "rule": "3-63; lowercase letters or numbers; start with a lowercase letter.",
          "contradiction": "The table's text says lowercase letters or numbers; its regex allows hyphens."},
    299: {"min_length": 1, "max_length": 128, "allowed_chars": r"^<>*%&:;\\/?", "invalid_last_chars": ".",
          "rule": "1-128; can't use < > * % & : ; \\ / ? or control characters; can't end with a period.",
          "contradiction": "The table's invalid characters forbid ; which its regex allows (and neither forbids "
                           "\\, which the published rule does)."},
    327: {"min_length": 1, "max_length": 260, "allowed_chars": "^/", "invalid_last_chars": " .",
          "rule": "1-260; can't use /; can't end with a space or period.",
          "contradiction": "The table's regex ((?!/).){1,260} and invalid characters forbid only /; the published "
                           "rule also forbids a trailing space or period."},
}
# Contradictions the published rule is too vague to decide: both readings apply.
UNDECIDED: dict[int, dict] = {
    300: {"rule": "1-1024; any URL characters, case sensitive.",
          "contradiction": "The table's text says any URL characters; its regex allows only A-Z a-z 0-9 - _ . ~ "
                           "(the unreserved ones). \"Any URL characters\" names no set, so both apply."},
}
# Regexes RE2 can't read (after the lookaheads above are taken out), and the equivalent rules Cairn stores.
NOT_ALL_DIGITS = r"^[a-zA-Z0-9-]*[a-zA-Z-][a-zA-Z0-9-]*$"
REWRITES: dict[str, tuple[str, dict, str]] = {
    r"^(?![0-9]+$)([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9])$": (
        NOT_ALL_DIGITS, {"first": "-", "last": "-"},
        "1-64, alphanumerics and hyphens, no hyphen first or last, and not all digits"),
    r"^(?![0-9]+$)([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,13}[a-zA-Z0-9])$": (
        NOT_ALL_DIGITS, {"first": "-", "last": "-"},
        "1-15, alphanumerics and hyphens, no hyphen first or last, and not all digits"),
    r"^[A-Za-z0-9-_\.~]{1,1024}$": (
        r"^[A-Za-z0-9_.~-]+$", {}, "1-1024 of A-Z a-z 0-9 - _ . ~ (RE2 counts to 1000 at most)"),
}

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
    notes, clashes = [], []  # clashes: where the table contradicts itself
    version = VERSION
    if regex != source_regex:
        notes.append("The regex's lookaheads are kept as invalid first, last or repeated characters.")
    if regex in REWRITES:
        regex, extra, meaning = REWRITES[regex]
        for where, chars in extra.items():
            edges[where] += "".join(c for c in chars if c not in edges[where])
        notes.append(f"Stored as rules RE2 reads (no lookahead, counts up to 1000): {meaning}.")
        version = CHANGED_VERSION
    invalid = row.get("invalidCharacters", "")
    allowed, lower = _allowed(regex, invalid)
    low, high = _int(row.get("lengthMin")), _int(row.get("lengthMax"))
    if regex:
        regex_min, regex_max = P.parse(regex).getwidth()
        if low is not None and regex_min > low:
            clashes.append(f"The table's minimum length is {low} but its regex needs {regex_min}: both apply.")
        if high is not None and regex_max < high:
            clashes.append(f"The table's maximum length is {high} but its regex allows {regex_max}: both apply.")
        low = max(low or 0, regex_min) or None
        high = min(x for x in (high, regex_max) if x is not None)
        high = None if high >= C.MAXREPEAT else high
    regex_allows = _allowed(regex, "")[0] if regex else ""
    bad = [c for c in invalid if regex and (charset(regex_allows) is None or charset(regex_allows).allows(c))]
    if bad:
        clashes.append(f"The table's regex allows {' '.join(bad)}, which its invalid characters forbid: forbidden.")
    fields = {"min_length": low, "max_length": high, "allowed_chars": allowed, "lowercase_only": lower,
              "regex": regex, "invalid_first_chars": edges["first"], "invalid_last_chars": edges["last"],
              "invalid_consecutive_chars": edges["repeat"]}
    decision = _decide(row["id"], fields, clashes)
    if decision.get("decided_by") == "microsoft":
        version, notes = CHANGED_VERSION, []  # the table's regex (and what was read from it) is not used
    if fields["max_length"] is not None and fields["max_length"] > 255:
        notes.append(f"Azure allows {fields['max_length']} characters; Cairn stores names of at most 255.")
        fields["max_length"] = 255
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
        "short_name": row.get("ShortName", ""), **{k: fields[k] for k in list(fields)[:5]},
        "source_regex": source_regex, **{k: fields[k] for k in list(fields)[5:]},
        "uniqueness": SCOPES.get(scope_text.lower(), "resource_group" if not scope_text else "parent"),
        "scope_label": scope_text or "resource group",
        "description": " ".join(t for t in (row.get("validText", ""), row.get("invalidText", "")) if t),
        "source": f"Azure Naming Tool resourcetypes.json, id {row['id']} ({SOURCE_URL}, MIT); {RULES_URL}",
        "notes": " ".join(notes), **decision, "version": version,
    }


def _decide(row_id: int, fields: dict, clashes: list[str]) -> dict:
    """Where the table contradicts itself: Microsoft's published rule replaces `fields` (PUBLISHED), or, when
    there is none to decide, both readings stay (the strict intersection already in `fields`) and the entry says so."""
    if row_id in PUBLISHED:
        rule = PUBLISHED[row_id]
        fields.update({"min_length": None, "max_length": None, "allowed_chars": "", "lowercase_only": False,
                       "regex": "", "invalid_first_chars": "", "invalid_last_chars": "",
                       "invalid_consecutive_chars": ""})
        fields.update({k: v for k, v in rule.items() if k in fields})
        return {"decided_by": "microsoft", "contradiction": rule["contradiction"], "published_rule": rule["rule"],
                "decision_source": rule.get("source", DOCS)}
    if row_id in UNDECIDED:
        rule = UNDECIDED[row_id]
        return {"decided_by": "both", "contradiction": rule["contradiction"], "published_rule": rule["rule"],
                "decision_source": rule.get("source", DOCS)}
    if clashes:
        return {"decided_by": "both", "contradiction": " ".join(clashes),
                "published_rule": "No published rule found to decide: both readings apply.", "decision_source": ""}
    return {}


def build() -> dict:
    rows = json.loads(SOURCE.read_text(encoding="utf-8"))
    return {"catalogue": "azure", "provider": "Azure", "title": "Azure (Azure Naming Tool)",
            "source": SOURCE_URL, "licence": "MIT (azure-naming-tool-LICENSE.txt)", "published_rules": RULES_URL,
            "entries": [entry(row) for row in rows]}


def check(document: dict) -> None:
    """Every stored regex is one RE2 reads (no Python `re` fallback for the catalogue)."""
    from app.platform import patterns

    for item in document["entries"]:
        if item["regex"] and patterns.check_pattern(item["regex"]):
            raise ValueError(f"{item['key']}: RE2 can't read {item['regex']}: add it to REWRITES")


if __name__ == "__main__":
    check(build())
    TARGET.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")
