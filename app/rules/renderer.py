"""Pure pattern rendering: no database, no Flask.

A pattern mixes literals, dimension placeholders and a sequence number:
`{environment}-{project}-{region}-{seq:3}`; `{region:code}` uses the value's
short code. Rendering repairs what it can (casing, delimiter swapped or dropped,
characters removed, truncated) and says so in `repairs`; what it cannot repair
it refuses, with the reasons in `refusals` (and `value` None). The result is
never longer than the effective maximum length.
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Optional

TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}")
SEQ = "seq"
HARD_MAX = 255  # the strings column


class PatternError(ValueError):
    """A pattern that can't be parsed (shown on the rule form)."""


@dataclass(frozen=True)
class Constraints:
    """What the platform accepts."""

    max_length: Optional[int] = None
    allowed_chars: str = ""  # a character-class body, e.g. "a-z0-9-"
    regex: str = ""
    lowercase_only: bool = False
    invalid_first_chars: str = ""
    invalid_last_chars: str = ""
    invalid_consecutive_chars: str = ""


@dataclass(frozen=True)
class FieldSpec:
    pattern: str
    casing: str = "as_is"
    delimiter: str = "-"
    fallback_delimiters: str = ""
    max_length: Optional[int] = None
    truncation: str = "refuse"


@dataclass
class Rendered:
    value: Optional[str]
    repairs: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict:
        return {"value": self.value, "repairs": list(self.repairs), "refusals": list(self.refusals)}


def parse(pattern: str) -> list[tuple[str, str, str]]:
    """Parts of a pattern: ("lit", text, ""), ("dim", key, modifier) or ("seq", "", width)."""
    return list(_parse(pattern))


@functools.lru_cache(maxsize=1024)
def _parse(pattern: str) -> tuple[tuple[str, str, str], ...]:
    parts: list[tuple[str, str, str]] = []
    pos = 0
    for match in TOKEN.finditer(pattern):
        if match.start() > pos:
            parts.append(("lit", pattern[pos:match.start()], ""))
        key, modifier = match.group(1), match.group(2) or ""
        if key == SEQ:
            if modifier and not modifier.isdigit():
                raise PatternError(f"{{seq:{modifier}}}: the sequence width must be a number, e.g. {{seq:3}}.")
            width = int(modifier or "1")
            if not 1 <= width <= 9:
                raise PatternError("The sequence width must be between 1 and 9.")
            parts.append(("seq", "", str(width)))
        else:
            if modifier not in ("", "code"):
                raise PatternError(f"{{{key}:{modifier}}}: the only modifier is :code (the value's short code).")
            parts.append(("dim", key, modifier))
        pos = match.end()
    if pos < len(pattern):
        parts.append(("lit", pattern[pos:], ""))
    for kind, text, _ in parts:
        if kind == "lit" and ("{" in text or "}" in text):
            raise PatternError(f"Unbalanced or invalid placeholder near {text!r}. Use {{dimension}} or {{seq:3}}.")
    if not any(kind != "lit" for kind, _, _ in parts):
        raise PatternError("A pattern needs at least one placeholder such as {environment} or {seq:3}.")
    return tuple(parts)


def placeholders(pattern: str) -> list[str]:
    """Dimension keys a pattern uses, in order, without duplicates."""
    return list(dict.fromkeys(text for kind, text, _ in parse(pattern) if kind == "dim"))


def has_seq(pattern: str) -> bool:
    try:
        return any(kind == "seq" for kind, _, _ in parse(pattern))
    except PatternError:
        return False


def seq_width(pattern: str) -> int:
    for kind, _, width in parse(pattern):
        if kind == "seq":
            return int(width)
    return 0


def _allowed(constraints: Constraints) -> Optional[re.Pattern]:
    return _compile_class(constraints.allowed_chars) if constraints.allowed_chars else None


def _refused(constraints: Constraints) -> Optional[re.Pattern]:
    """Matches one character the platform does not allow (None: all allowed)."""
    if not constraints.allowed_chars or _compile_class(constraints.allowed_chars) is None:
        return None
    return _compile_negated(constraints.allowed_chars)


@functools.lru_cache(maxsize=256)
def _compile_negated(body: str) -> Optional[re.Pattern]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return re.compile(f"[^{body}]")
        except re.error:
            return None


@functools.lru_cache(maxsize=256)
def _compile_class(body: str) -> Optional[re.Pattern]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" for bodies like "[a-z"
        try:
            return re.compile(f"[{body}]")
        except re.error:
            return None


def char_allowed(ch: str, constraints: Constraints) -> bool:
    allowed = _allowed(constraints)
    if allowed is not None and not allowed.fullmatch(ch):
        return False
    if constraints.lowercase_only and ch != ch.lower():
        return False
    return True


def _apply_casing(text: str, casing: str) -> str:
    if casing == "lower":
        return text.lower()
    if casing == "upper":
        return text.upper()
    if casing == "title":
        return text[:1].upper() + text[1:].lower()
    return text


def _effective_max(spec: FieldSpec, constraints: Constraints) -> int:
    limits = [HARD_MAX] + [m for m in (spec.max_length, constraints.max_length) if m]
    return max(1, min(limits))


def _choose_delimiter(spec: FieldSpec, constraints: Constraints, repairs: list[str]) -> str:
    delim = spec.delimiter
    if not delim or all(char_allowed(c, constraints) for c in delim):
        return delim
    for candidate in spec.fallback_delimiters:
        if candidate.strip() and char_allowed(candidate, constraints):
            repairs.append(f"delimiter {delim!r} is not allowed on this platform: used fallback {candidate!r}")
            return candidate
    repairs.append(f"delimiter {delim!r} is not allowed on this platform and no fallback is: delimiter dropped")
    return ""


def render(
    spec: FieldSpec,
    values: Mapping[str, str],
    *,
    codes: Mapping[str, str] | None = None,
    seq: int = 1,
    constraints: Constraints = Constraints(),
) -> Rendered:
    """Render one name. Never raises for any values; never returns a value over the maximum length."""
    repairs: list[str] = []
    try:
        parts = parse(spec.pattern)
    except PatternError as exc:
        return Rendered(None, [], [str(exc)])
    codes = codes or {}
    missing = [key for kind, key, _ in parts if kind == "dim" and not str(values.get(key, "") or "")]
    if missing:
        return Rendered(None, [], [f"no value for {{{key}}}" for key in dict.fromkeys(missing)])
    delim = _choose_delimiter(spec, constraints, repairs)

    # Pieces: (is_value, text). Literals equal to the preferred delimiter become the chosen one.
    pieces: list[list] = []
    for kind, text, modifier in parts:
        if kind == "lit":
            if spec.delimiter:
                text = text.replace(spec.delimiter, delim)
            pieces.append([False, text])
        elif kind == "seq":
            width = int(modifier)
            number = str(max(0, int(seq)))
            if len(number) > width:
                return Rendered(None, repairs, [f"sequence number {seq} does not fit in {width} digit(s)"])
            pieces.append([False, number.zfill(width)])
        else:
            raw = str(values[text])
            if modifier == "code":
                raw = str(codes.get(text) or raw)
            pieces.append([True, raw])

    # Casing, then the platform's lowercase rule.
    for piece in pieces:
        piece[1] = _apply_casing(piece[1], spec.casing)
    if constraints.lowercase_only and any(p[1] != p[1].lower() for p in pieces):
        for piece in pieces:
            piece[1] = piece[1].lower()
        repairs.append("lowercased (the platform accepts lowercase only)")

    # Characters the platform does not allow.
    removed: set[str] = set()
    refused = _refused(constraints)
    for piece in pieces:
        text_ = piece[1]
        if refused is not None:
            bad = refused.findall(text_)
            if bad:
                removed.update(bad)
                text_ = refused.sub("", text_)
        if not text_.isprintable():
            removed.update(ch for ch in text_ if not ch.isprintable())
            text_ = "".join(ch for ch in text_ if ch.isprintable())
        if constraints.lowercase_only and text_ != text_.lower():  # lowercasing can make new characters
            removed.update(ch for ch in text_ if ch != ch.lower())
            text_ = "".join(ch for ch in text_ if ch == ch.lower())
        piece[1] = text_
    if removed:
        shown = "".join(sorted(removed))[:20]
        repairs.append(f"removed characters the platform does not allow: {shown!r}")
    if any(p[0] and not p[1] for p in pieces):
        return Rendered(None, repairs, ["a value is empty once disallowed characters are removed"])

    limit = _effective_max(spec, constraints)
    text = "".join(p[1] for p in pieces)
    if len(text) > limit:
        if spec.truncation == "refuse":
            return Rendered(None, repairs, [f"{len(text)} characters is over the maximum of {limit}"])
        if spec.truncation == "shorten_values":
            before = len(text)
            while len(text) > limit:
                longest = max((p for p in pieces if p[0]), key=lambda p: len(p[1]), default=None)
                if longest is None or len(longest[1]) <= 1:
                    break
                longest[1] = longest[1][:-1]
                text = "".join(p[1] for p in pieces)
            if len(text) <= limit:
                repairs.append(f"shortened values from {before} to {len(text)} characters (maximum {limit})")
        if len(text) > limit:
            repairs.append(f"truncated from {len(text)} to {limit} characters")
            text = text[:limit]

    text = _fix_edges(text, constraints, repairs)
    if not text:
        return Rendered(None, repairs, ["nothing is left of the name after the platform's rules are applied"])
    if constraints.regex:
        try:
            matched = re.fullmatch(constraints.regex, text) is not None
        except re.error:
            matched = True  # an invalid regex is refused when the platform is saved
        if not matched:
            return Rendered(None, repairs, [f"{text!r} does not match the platform's pattern {constraints.regex}"])
    return Rendered(text, repairs, [])


def _fix_edges(text: str, constraints: Constraints, repairs: list[str]) -> str:
    """Collapse runs of invalid consecutive characters and strip invalid first/last characters."""
    for ch in constraints.invalid_consecutive_chars:
        if ch + ch in text:
            while ch + ch in text:
                text = text.replace(ch + ch, ch)
            repairs.append(f"collapsed repeated {ch!r}")
    first, last = constraints.invalid_first_chars, constraints.invalid_last_chars
    if first and text and text[0] in first:
        text = text.lstrip(first)
        repairs.append(f"removed leading characters the platform refuses ({first!r})")
    if last and text and text[-1] in last:
        text = text.rstrip(last)
        repairs.append(f"removed trailing characters the platform refuses ({last!r})")
    return text


def violations(value: str, constraints: Constraints) -> list[str]:
    """Why `value` breaks the platform's rules (empty when it doesn't). Used by conflict checks."""
    problems: list[str] = []
    if constraints.max_length and len(value) > constraints.max_length:
        problems.append(f"{len(value)} characters is over the platform's maximum of {constraints.max_length}")
    refused = _refused(constraints)
    if (refused is not None and refused.search(value)) or (constraints.lowercase_only and value != value.lower()):
        bad = sorted({ch for ch in value if not char_allowed(ch, constraints)})
    else:
        bad = []  # one regex over the whole value instead of one per character: checks run on 100,000s
    if bad:
        problems.append(f"characters not allowed: {''.join(bad)!r}")
    if value and constraints.invalid_first_chars and value[0] in constraints.invalid_first_chars:
        problems.append(f"may not start with {value[0]!r}")
    if value and constraints.invalid_last_chars and value[-1] in constraints.invalid_last_chars:
        problems.append(f"may not end with {value[-1]!r}")
    for ch in constraints.invalid_consecutive_chars:
        if ch + ch in value:
            problems.append(f"may not contain {ch + ch!r}")
    if constraints.regex:
        try:
            if re.fullmatch(constraints.regex, value) is None:
                problems.append(f"does not match {constraints.regex}")
        except re.error:
            pass
    return problems


NORMALIZE_STRIP = re.compile(r"[\s\-_.]+")


def normalize(value: str) -> str:
    """Case and delimiters don't count: `Prod-Web_01` and `prodweb01` normalise alike."""
    return NORMALIZE_STRIP.sub("", value).lower()


def one_edit_apart(a: str, b: str) -> bool:
    """True when a and b differ by exactly one insertion, deletion or substitution."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:]
    return a[i:] == b[i + 1:]
