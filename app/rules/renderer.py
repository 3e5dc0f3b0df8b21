"""Pure pattern rendering and checking: no database, no Flask.

A pattern mixes literals, dimension placeholders and a sequence number:
`{environment}-{project}-{region}-{seq:3}`; `{region:code}` uses the value's
short code. Rendering repairs what it can (casing, delimiter swapped or dropped,
compatibility characters folded, characters removed, free-text values shortened)
and says so in `repairs`; what it cannot repair it refuses, with the reasons in
`refusals` (and `value` None).

One definition of what a platform allows (`Constraints`, its `CharSet`) and one
checker (`violations`): the conflict check calls it on proposed names and the
renderer calls it on every name before returning it, so a rendered name always
passes the check, and a name that passes is rendered unchanged from itself.

A repair never removes a sequence number or a whole value, and never cuts a list
value or a short code (people recognise `prod`, not `pro`): where fitting the
platform would, the name is refused with the reason.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Mapping, Optional

from app.platform import patterns

TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}")
SEQ = "seq"
HARD_MAX = 255  # the strings column


class PatternError(ValueError):
    """A pattern that can't be parsed (shown on the rule form)."""


class RegexError(ValueError):
    """A platform's regular expression or character set that can't be compiled."""


def compile_pattern(pattern: str) -> re.Pattern:
    """The one place a user-supplied regular expression is compiled (raises RegexError).

    Platform regexes and the character-set matchers built from a platform's
    allowed characters all come through here, so the regex engine is chosen
    in one line.
    """
    return _compile_pattern(pattern)


@functools.lru_cache(maxsize=1024)
def _compile_pattern(pattern: str) -> re.Pattern:
    # RE2 (platform.patterns): linear-time matching, so a platform's `(a+)+$` can't stall the live preview or a worker.
    # Every pattern, the catalogue's included: its entries store only patterns RE2 reads (azure_build.REWRITES).
    try:
        return patterns.compile_pattern(pattern)
    except patterns.RegexError as exc:
        raise RegexError(str(exc)) from None


class CharSetError(ValueError):
    """Allowed characters that can't be read as a character set."""


_CLASS_ESCAPES = "dwsDWS"
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class CharSet:
    """A platform's allowed characters, read from a character-class body such as `a-z0-9-`.

    `^` first negates it (`^\\/'[]:|<>+=;,?*@&_"`: anything but those, as
    Azure writes its VM rule); `\\` escapes the next character; `\\d \\w \\s`
    are the usual classes; surrounding brackets are allowed (`[a-z0-9]`).
    Everything else is literal, `[` and `]` included. The renderer and the
    checker both ask `bad` which characters it refuses.
    """

    negated: bool
    items: tuple[str, ...]  # escaped class items: "a-z", "\\-", "\\d"

    @functools.cached_property
    def bad(self) -> re.Pattern:
        """Matches one character the set does not allow."""
        body = "".join(self.items)
        return compile_pattern(f"[{body}]" if self.negated else f"[^{body}]")

    def allows(self, ch: str) -> bool:
        return self.bad.search(ch) is None


@functools.lru_cache(maxsize=512)
def charset(body: str) -> Optional[CharSet]:
    """The CharSet of an allowed-characters body (None: every character allowed). Raises CharSetError."""
    if not body:
        return None
    if len(body) >= 3 and body[0] == "[" and body[-1] == "]":
        body = body[1:-1]
    negated = body.startswith("^") and len(body) > 1
    chars = _charset_tokens(body[1:] if negated else body)
    items: list[str] = []
    i = 0
    while i < len(chars):
        kind, ch = chars[i]
        if (kind != "class" and i + 2 < len(chars) and chars[i + 1] == ("char", "-")
                and chars[i + 2][0] != "class"):
            end = chars[i + 2][1]
            if end < ch:
                raise CharSetError(f"the range {ch}-{end} is backwards")
            items.append(f"{re.escape(ch)}-{re.escape(end)}")
            i += 3
            continue
        items.append(ch if kind == "class" else re.escape(ch))
        i += 1
    return CharSet(negated, tuple(items))


def _charset_tokens(body: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _CLASS_ESCAPES:
                tokens.append(("class", "\\" + nxt))
            else:
                tokens.append(("escaped", _CHAR_ESCAPES.get(nxt, nxt)))
            i += 2
            continue
        tokens.append(("char", ch))
        i += 1
    return tokens  # an escaped dash is ("escaped", "-"): a literal, never a range's dash


@dataclass(frozen=True)
class Constraints:
    """What the platform accepts."""

    max_length: Optional[int] = None
    min_length: Optional[int] = None
    allowed_chars: str = ""  # a character-class body, e.g. "a-z0-9-" (see CharSet)
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
    # Free-text dimensions: the only values a repair may shorten. List values and short codes are kept whole.
    free_text_keys: frozenset = frozenset()


@dataclass
class Rendered:
    value: Optional[str]
    repairs: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    seq_span: Optional[tuple[int, int]] = None  # where the sequence digits are in `value`

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


def allowed_charset(constraints: Constraints) -> Optional[CharSet]:
    """The platform's CharSet (None: every character; an unreadable set is refused when the platform is saved)."""
    try:
        return charset(constraints.allowed_chars)
    except (CharSetError, RegexError):
        return None


def _regex(constraints: Constraints) -> Optional[re.Pattern]:
    if not constraints.regex:
        return None
    try:
        return compile_pattern(constraints.regex)
    except RegexError:
        return None  # refused when the platform is saved


def text_allowed(text: str, constraints: Constraints) -> bool:
    """Every character of `text` allowed (one regex search, not one test per character)."""
    chars = allowed_charset(constraints)
    return ((chars is None or chars.bad.search(text) is None) and text.isprintable()
            and not (constraints.lowercase_only and text != text.lower()))


def char_allowed(ch: str, constraints: Constraints) -> bool:
    chars = allowed_charset(constraints)
    if chars is not None and not chars.allows(ch):
        return False
    if constraints.lowercase_only and ch != ch.lower():
        return False
    return ch.isprintable()


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


@dataclass(slots=True)
class _Piece:
    """One part of a name being rendered: a literal, a value ({key} / {key:code}) or the sequence number."""

    kind: str  # "lit", "value", "seq"
    text: str
    key: str = ""
    original: str = ""
    shortenable: bool = False  # a free-text value: repairs may shorten it (never to nothing)

    @property
    def label(self) -> str:
        return "the sequence number" if self.kind == "seq" else f"{{{self.key}}} = {self.original!r}"


class _Refused(Exception):
    pass


def render(
    spec: FieldSpec,
    values: Mapping[str, str],
    *,
    codes: Mapping[str, str] | None = None,
    seq: int = 1,
    constraints: Constraints = Constraints(),
) -> Rendered:
    """Render one name. Never raises for any values; what it returns always passes `violations`."""
    repairs: list[str] = []
    try:
        parts = _parse(spec.pattern)
    except PatternError as exc:
        return Rendered(None, [], [str(exc)])
    missing = [key for kind, key, _ in parts if kind == "dim" and not str(values.get(key, "") or "")]
    if missing:
        return Rendered(None, [], [f"no value for {{{key}}}" for key in dict.fromkeys(missing)])
    try:
        pieces = _pieces(spec, values, codes or {}, seq, constraints, repairs)
        _case(pieces, spec, constraints, repairs)
        _clean_characters(pieces, spec, constraints, repairs)
        _fix_edges(pieces, constraints, repairs)
        _fit_length(pieces, spec, constraints, repairs)
    except _Refused as exc:
        return Rendered(None, repairs, [str(exc)])
    text = "".join(p.text for p in pieces)
    problems = violations(text, constraints)
    if problems:
        return Rendered(None, repairs, [f"{text!r} breaks the platform's rules: {'; '.join(problems)}"])
    return Rendered(text, repairs, [], _seq_span(pieces))


def _seq_span(pieces: list[_Piece]) -> Optional[tuple[int, int]]:
    start = 0
    for piece in pieces:
        if piece.kind == "seq":
            return (start, start + len(piece.text))
        start += len(piece.text)
    return None


@functools.lru_cache(maxsize=1024)
def _plan(spec: FieldSpec, constraints: Constraints) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """(delimiter repairs, parts with the chosen delimiter and casing applied to literals): once per field."""
    repairs: list[str] = []
    delim = _choose_delimiter(spec, constraints, repairs)
    parts = []
    for kind, text, modifier in parse(spec.pattern):
        if kind == "lit":
            text = _apply_casing(text.replace(spec.delimiter, delim) if spec.delimiter else text, spec.casing)
        parts.append((kind, text, modifier))
    return tuple(repairs), tuple(parts)


def _pieces(spec, values, codes, seq, constraints, repairs) -> list[_Piece]:
    """The name's parts, cased (casing is applied per piece: a title-cased value keeps its capital)."""
    plan_repairs, parts = _plan(spec, constraints)
    repairs.extend(plan_repairs)
    pieces: list[_Piece] = []
    for kind, text, modifier in parts:
        if kind == "lit":
            pieces.append(_Piece("lit", text))
        elif kind == "seq":
            width = int(modifier)
            number = str(max(0, int(seq)))
            if len(number) > width:
                raise _Refused(f"sequence number {seq} does not fit in {width} digit(s)")
            pieces.append(_Piece("seq", number.zfill(width), original=number.zfill(width)))
        else:
            raw = str(values[text])
            code = modifier == "code" and codes.get(text)
            raw = str(code) if code else raw
            pieces.append(_Piece("value", _apply_casing(raw, spec.casing), key=text, original=raw,
                                 shortenable=not code and text in spec.free_text_keys))
    return pieces


def _case(pieces: list[_Piece], spec: FieldSpec, constraints: Constraints, repairs: list[str]) -> None:
    if constraints.lowercase_only and any(p.text != p.text.lower() for p in pieces):
        for piece in pieces:
            piece.text = piece.text.lower()
        repairs.append("lowercased (the platform accepts lowercase only)")


def _fold(ch: str, spec: FieldSpec, constraints: Constraints) -> Optional[str]:
    """`ch` folded to compatibility characters the platform allows (NFKC: Ｐ -> P, ① -> 1, ﬁ -> fi), or None."""
    folded = unicodedata.normalize("NFKC", ch)
    if spec.casing in ("lower", "upper"):
        folded = _apply_casing(folded, spec.casing)
    if constraints.lowercase_only:
        folded = folded.lower()
    if folded and folded != ch and all(char_allowed(c, constraints) for c in folded):
        return folded
    return None


def _clean_characters(pieces: list[_Piece], spec: FieldSpec, constraints: Constraints, repairs: list[str]) -> None:
    """Fold, then remove, characters the platform does not allow; a value or sequence number may not vanish."""
    if text_allowed("".join(p.text for p in pieces), constraints):
        return  # the usual case: nothing to fold or remove
    removed: set[str] = set()
    folded: list[str] = []
    for piece in pieces:
        if text_allowed(piece.text, constraints):
            continue
        out = []
        for ch in piece.text:
            if char_allowed(ch, constraints):
                out.append(ch)
                continue
            replacement = _fold(ch, spec, constraints)
            if replacement is None:
                removed.add(ch)
            else:
                out.append(replacement)
                folded.append(f"{ch}→{replacement}")
        if piece.kind == "seq":
            raise _Refused(f"the platform does not allow the sequence number's digits ({piece.text!r})")
        piece.text = "".join(out)
        if piece.kind == "value" and not piece.text:
            raise _Refused(f"{piece.label} is empty once characters the platform does not allow are removed")
    if folded:
        repairs.append(f"folded compatibility characters: {', '.join(dict.fromkeys(folded))}"[:200])
    if removed:
        shown = "".join(sorted(removed))[:20]
        repairs.append(f"removed characters the platform does not allow: {shown!r}")


def _fix_edges(pieces: list[_Piece], constraints: Constraints, repairs: list[str]) -> None:
    """Collapse runs of characters that may not repeat, strip invalid first/last characters, across pieces.

    Refuses when that would empty a value (e.g. a value made only of
    delimiters) or touch the sequence number.
    """
    repeat = constraints.invalid_consecutive_chars
    first, last = constraints.invalid_first_chars, constraints.invalid_last_chars
    text = "".join(p.text for p in pieces)
    if not (any(ch + ch in text for ch in repeat) or (text and first and text[0] in first)
            or (text and last and text[-1] in last)):
        return  # the usual case: nothing to repair
    before = [p.text for p in pieces]
    if repeat:
        last = ""
        collapsed: set[str] = set()
        for piece in pieces:
            out = []
            for ch in piece.text:
                if ch in repeat and ch == last:
                    collapsed.add(ch)
                    continue
                out.append(ch)
                last = ch
            piece.text = "".join(out)
        for ch in sorted(collapsed):
            repairs.append(f"collapsed repeated {ch!r}")
    _strip_edge(pieces, first, leading=True, repairs=repairs)
    _strip_edge(list(reversed(pieces)), last, leading=False, repairs=repairs)
    _check_intact(pieces, before, "the platform's rules on first, last and repeated characters")


def _strip_edge(pieces: list[_Piece], chars: str, *, leading: bool, repairs: list[str]) -> None:
    if not chars:
        return
    stripped = False
    for piece in pieces:
        kept = piece.text.lstrip(chars) if leading else piece.text.rstrip(chars)
        stripped = stripped or kept != piece.text
        piece.text = kept
        if kept:
            break
    if stripped:
        where = "leading" if leading else "trailing"
        repairs.append(f"removed {where} characters the platform refuses ({chars!r})")


def _check_intact(pieces: list[_Piece], before: list[str], why: str) -> None:
    for piece, old in zip(pieces, before):
        if piece.kind == "seq" and piece.text != old:
            raise _Refused(f"{why} would cut into the sequence number {old!r}")
        if piece.kind == "value" and old and not piece.text:
            raise _Refused(f"{why} would remove the whole value {piece.label}")


def _fit_length(pieces: list[_Piece], spec: FieldSpec, constraints: Constraints, repairs: list[str]) -> None:
    limit = _effective_max(spec, constraints)
    length = sum(len(p.text) for p in pieces)
    if length <= limit:
        return
    over = f"{length} characters is over the maximum of {limit}"
    if spec.truncation == "refuse":
        raise _Refused(over)
    if spec.truncation == "shorten_values":
        _shorten_values(pieces, limit, over, repairs)
    else:
        _truncate_end(pieces, limit, repairs)
    _fix_edges(pieces, constraints, repairs)  # a cut can leave a delimiter at the end


def _shorten_values(pieces: list[_Piece], limit: int, over: str, repairs: list[str]) -> None:
    """Trim the longest free-text value, one character at a time, keeping at least one character of each."""
    length = before = sum(len(p.text) for p in pieces)
    while length > limit:
        longest = max((p for p in pieces if p.shortenable and len(p.text) > 1), key=lambda p: len(p.text),
                      default=None)
        if longest is None:
            raise _Refused(f"{over}, and only free-text values may be shortened (list values, short codes and "
                           f"the sequence number are kept whole)")
        longest.text = longest.text[:-1]
        length -= 1
    repairs.append(f"shortened free-text values from {before} to {length} characters (maximum {limit})")


def _truncate_end(pieces: list[_Piece], limit: int, repairs: list[str]) -> None:
    """Cut the end off, through literals and free-text values only (never into a list value or the sequence)."""
    before = sum(len(p.text) for p in pieces)
    excess = before - limit
    for piece in reversed(pieces):
        if excess <= 0:
            break
        if piece.kind == "lit":
            cut = min(excess, len(piece.text))
        elif piece.shortenable:
            cut = min(excess, len(piece.text) - 1)
            if cut < excess:
                raise _Refused(f"cutting the end to {limit} characters would remove the whole value {piece.label}")
        else:
            raise _Refused(f"cutting the end to {limit} characters would cut into {piece.label}")
        piece.text = piece.text[:len(piece.text) - cut]
        excess -= cut
    repairs.append(f"truncated from {before} to {limit} characters")


def violations(value: str, constraints: Constraints) -> list[str]:
    """Why `value` breaks the platform's rules (empty when it doesn't): the conflict check's and the renderer's."""
    problems: list[str] = []
    if constraints.max_length and len(value) > constraints.max_length:
        problems.append(f"{len(value)} characters is over the platform's maximum of {constraints.max_length}")
    if constraints.min_length and len(value) < constraints.min_length:
        problems.append(f"{len(value)} characters is under the platform's minimum of {constraints.min_length}")
    # One regex over the whole value instead of one test per character: checks run on 100,000s of names.
    if not text_allowed(value, constraints):
        bad = sorted({ch for ch in value if not char_allowed(ch, constraints)})
        problems.append(f"characters not allowed: {''.join(bad)!r}")
    if value and constraints.invalid_first_chars and value[0] in constraints.invalid_first_chars:
        problems.append(f"may not start with {value[0]!r}")
    if value and constraints.invalid_last_chars and value[-1] in constraints.invalid_last_chars:
        problems.append(f"may not end with {value[-1]!r}")
    for ch in constraints.invalid_consecutive_chars:
        if ch + ch in value:
            problems.append(f"may not contain {ch + ch!r}")
    pattern = _regex(constraints)
    if pattern is not None and pattern.fullmatch(value) is None:
        problems.append(f"does not match {constraints.regex}")
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
