"""The pure renderer: every repair explained, every refusal with a reason, never a crash or an over-long name."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.rules.renderer import Constraints, FieldSpec, PatternError, normalize, one_edit_apart, parse, render, violations

AZURE = Constraints(max_length=24, allowed_chars="a-z0-9-", lowercase_only=True, invalid_first_chars="-",
                    invalid_last_chars="-", invalid_consecutive_chars="-")
PATTERN = "{environment}-{project}-{region}-{seq:3}"
VALUES = {"environment": "prod", "project": "web", "region": "weu"}


def test_plain_render_and_sequence_padding():
    result = render(FieldSpec(PATTERN), VALUES, seq=7)
    assert (result.value, result.repairs, result.refusals) == ("prod-web-weu-007", [], [])


def test_short_codes_and_casing():
    spec = FieldSpec("{environment:code}{project}", casing="upper", delimiter="")
    assert render(spec, VALUES, codes={"environment": "p"}).value == "PWEB"
    assert render(FieldSpec("{project}", casing="title"), {"project": "wEB"}).value == "Web"


def test_lowercased_is_a_stated_repair():
    result = render(FieldSpec(PATTERN), {**VALUES, "project": "Web"}, constraints=AZURE)
    assert result.value == "prod-web-weu-001"
    assert any("lowercased" in r for r in result.repairs)


def test_fallback_delimiter_then_dropped():
    no_dash = Constraints(allowed_chars="a-z0-9_")
    result = render(FieldSpec(PATTERN, fallback_delimiters="_"), VALUES, constraints=no_dash)
    assert result.value == "prod_web_weu_001"
    assert any("fallback '_'" in r for r in result.repairs)
    letters_only = Constraints(allowed_chars="a-z0-9")
    result = render(FieldSpec(PATTERN, fallback_delimiters="_."), VALUES, constraints=letters_only)
    assert result.value == "prodwebweu001" and any("delimiter dropped" in r for r in result.repairs)


def test_removed_characters_collapsed_and_edges_stripped():
    result = render(FieldSpec("{project}-{region}"), {"project": "-web!", "region": "weu-"}, constraints=AZURE)
    assert result.value == "web-weu"
    text = " ".join(result.repairs)
    assert "removed characters" in text and "collapsed" in text or "leading" in text


def test_too_long_refused_with_reason():
    spec = FieldSpec(PATTERN, truncation="refuse")
    result = render(spec, {**VALUES, "project": "a-very-long-project-name"}, constraints=AZURE)
    assert result.value is None and "over the maximum of 24" in result.refusals[0]


def test_truncate_end_and_shorten_values_cut_only_free_text():
    long = {**VALUES, "project": "averylongprojectname"}
    free = frozenset({"project"})
    cut = render(FieldSpec("{seq:3}-{environment}-{project}", truncation="truncate_end", free_text_keys=free),
                 long, constraints=AZURE)
    assert cut.value == "001-prod-averylongprojec" and any("truncated" in r for r in cut.repairs)
    shortened = render(FieldSpec(PATTERN, truncation="shorten_values", free_text_keys=free), long, constraints=AZURE)
    assert len(shortened.value) <= 24 and shortened.value.startswith("prod-") and shortened.value.endswith("-weu-001")
    assert any("shortened" in r for r in shortened.repairs)


def test_repairs_never_cut_the_sequence_a_list_value_or_a_whole_value():
    long = {**VALUES, "project": "averylongprojectname"}
    into_seq = render(FieldSpec(PATTERN, truncation="truncate_end", free_text_keys=frozenset({"project"})), long,
                      constraints=AZURE)
    assert into_seq.value is None and "sequence number" in into_seq.refusals[0]
    # PROD -> PRO: list values (not free text) are never shortened
    fixed = render(FieldSpec("{environment}{project}", truncation="shorten_values"), VALUES,
                   constraints=Constraints(max_length=6))
    assert fixed.value is None and "only free-text values" in fixed.refusals[0]
    listed_end = render(FieldSpec("{project}{environment}", truncation="truncate_end"), VALUES,
                        constraints=Constraints(max_length=6))
    assert listed_end.value is None and "{environment} = 'prod'" in listed_end.refusals[0]
    # A value made only of delimiters would vanish once repeated and trailing dashes are repaired
    dashes = render(FieldSpec(PATTERN), {**VALUES, "project": "---"}, constraints=AZURE)
    assert dashes.value is None and "whole value {project} = '---'" in dashes.refusals[0]
    leading = render(FieldSpec("{project}-{seq:2}"), {"project": "--"}, constraints=AZURE)
    assert leading.value is None


def test_minimum_length_and_nfkc_folding():
    storage = Constraints(min_length=3, max_length=24, allowed_chars="a-z0-9", lowercase_only=True)
    short = render(FieldSpec("{project}", delimiter=""), {"project": "ab"}, constraints=storage)
    assert short.value is None and "minimum of 3" in short.refusals[0]
    assert "under the platform's minimum of 3" in violations("ab", storage)[0]
    folded = render(FieldSpec("{environment}{project}", delimiter=""), {"environment": "ＰＲＯＤ", "project": "ｗｅｂ①"},
                    constraints=storage)
    assert folded.value == "prodweb1" and any("folded" in r for r in folded.repairs)


def test_negated_allowed_characters_render_and_check_alike():
    vm = Constraints(max_length=15, allowed_chars="^\\/'[]:|<>+=;,?*@&_\"", invalid_last_chars=".-")
    result = render(FieldSpec("{environment}-{project}-{seq:2}"), {"environment": "prod", "project": "w_e:b"},
                    constraints=vm)
    assert result.value == "prod-web-01" and any("removed" in r for r in result.repairs)
    assert violations("prod-web-01", vm) == [] and violations("prod_web", vm)
    assert violations("prod\\web", vm) == [] and violations("prod/web", vm)


def test_refusals_missing_value_bad_sequence_regex():
    assert render(FieldSpec(PATTERN), {"environment": "prod"}).refusals == ["no value for {project}", "no value for {region}"]
    assert "does not fit" in render(FieldSpec("{project}{seq:2}"), VALUES, seq=100).refusals[0]
    starts_with_letter = Constraints(regex=r"[a-z][a-z0-9-]*")
    assert "does not match" in render(FieldSpec("{seq:2}-{project}"), VALUES, constraints=starts_with_letter).refusals[0]
    emptied = render(FieldSpec("{project}"), {"project": "!!!"}, constraints=AZURE)
    assert emptied.value is None and emptied.refusals


@pytest.mark.parametrize("pattern", ["no placeholders", "{project", "{seq:x}", "{project:upper}", "{seq:0}"])
def test_bad_patterns_are_refused_with_a_reason(pattern):
    with pytest.raises(PatternError):
        parse(pattern)
    assert render(FieldSpec(pattern), VALUES).refusals


def test_violations_normalize_and_one_edit():
    assert violations("prod-web", AZURE) == []
    problems = violations("-Prod--web_", AZURE)
    assert any("not allowed" in p for p in problems) and any("start" in p for p in problems)
    assert any("'--'" in p for p in problems)
    assert normalize("Prod-Web_01") == normalize("prodweb01")
    assert one_edit_apart("prod-web", "prod-wab") and one_edit_apart("prod-web", "prod-webs")
    assert not one_edit_apart("prod-web", "prod-web") and not one_edit_apart("prod", "dev")


text = st.text(min_size=0, max_size=60)
constraints = st.builds(
    Constraints,
    max_length=st.one_of(st.none(), st.integers(1, 80)),
    allowed_chars=st.sampled_from(["", "a-z0-9-", "a-zA-Z0-9_.", "a-z", "[", "0-9"]),
    regex=st.sampled_from(["", r"[a-z].*", r"(", r".*\d"]),
    lowercase_only=st.booleans(),
    invalid_first_chars=st.sampled_from(["", "-", "-_0"]),
    invalid_last_chars=st.sampled_from(["", "-", "._"]),
    invalid_consecutive_chars=st.sampled_from(["", "-", "-_"]),
)
specs = st.builds(
    FieldSpec,
    pattern=st.one_of(st.sampled_from([PATTERN, "{project}{seq:2}", "{environment:code}_{region}", "x{project}y"]), text),
    casing=st.sampled_from(["as_is", "lower", "upper", "title"]),
    delimiter=st.sampled_from(["-", "_", "", ".", "--"]),
    fallback_delimiters=st.sampled_from(["", "_", "_.", "-"]),
    max_length=st.one_of(st.none(), st.integers(1, 80)),
    truncation=st.sampled_from(["refuse", "truncate_end", "shorten_values"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, constraints=constraints, values=st.dictionaries(st.sampled_from(["environment", "project", "region"]), text),
       seq=st.integers(-5, 10**12))
def test_never_crashes_never_over_max_length(spec, constraints, values, seq):
    result = render(spec, values, codes={"environment": "p"}, seq=seq, constraints=constraints)
    limits = [m for m in (spec.max_length, constraints.max_length, 255) if m]
    if result.value is None:
        assert result.refusals, "a refusal always says why"
    else:
        assert 0 < len(result.value) <= min(limits)
        assert not result.refusals


# Rendering and checking share one platform definition: proven both ways on random platforms and values.
platforms = st.builds(
    Constraints,
    max_length=st.one_of(st.none(), st.integers(1, 40)),
    min_length=st.one_of(st.none(), st.integers(1, 8)),
    allowed_chars=st.sampled_from(["", "a-z0-9-", "a-zA-Z0-9_.", "^\\/'[]:|<>+=;,?*@&_\"", "^ ", "\\w-", "[a-z]"]),
    regex=st.sampled_from(["", r"[a-z].*", r".*[a-z0-9]", r"[^0-9].*"]),
    lowercase_only=st.booleans(),
    invalid_first_chars=st.sampled_from(["", "-", "-_0"]),
    invalid_last_chars=st.sampled_from(["", "-", "._"]),
    invalid_consecutive_chars=st.sampled_from(["", "-", "-_"]),
)
awkward = st.text(alphabet=st.one_of(st.sampled_from("aZ09-_. ЖéＰ①ﬁ/\\:\t"), st.characters()), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, constraints=platforms, values=st.dictionaries(st.sampled_from(["environment", "project", "region"]),
                                                                 awkward), seq=st.integers(0, 1000))
def test_every_rendered_name_passes_the_checker(spec, constraints, values, seq):
    result = render(spec, values, codes={"environment": "p"}, seq=seq, constraints=constraints)
    if result.ok:
        assert violations(result.value, constraints) == []
    else:
        assert result.refusals


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constraints=platforms, value=awkward.filter(bool), casing=st.sampled_from(["as_is", "lower", "upper"]))
def test_every_accepted_name_is_rendered_unchanged(constraints, value, casing):
    """A name the checker accepts is one the renderer may emit: rendered from itself, it comes back as it is."""
    if casing == "lower":
        value = value.lower()
    elif casing == "upper":
        value = value.upper()
    if violations(value, constraints):
        return
    result = render(FieldSpec("{project}", casing=casing, delimiter="", truncation="refuse"), {"project": value},
                    constraints=constraints)
    assert result.value == value and result.repairs == []
