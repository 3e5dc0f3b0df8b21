"""The catalogue's decided entries and RE2 rewrites, checked against rules written here independently.

1. Where the Azure Naming Tool's table contradicts itself, Microsoft's published rule decides: PUBLISHED below
   restates each published rule as a Python `re` pattern plus lengths (from the published text, not from the
   entry), and property tests show the entry accepts exactly the names that rule accepts.
2. The three table regexes RE2 can't read are stored as RE2 patterns plus separate rules (min/max length,
   invalid first/last characters): property tests compare the old Python-re pattern with the new
   representation on many strings, and no catalogue pattern needs Python's re any more.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.platform import patterns
from app.rules import catalogue, renderer, services
from app.rules.models import Platform
from tests.helpers import page_text, signed_in

RAW = {row["id"]: row for row in json.loads(
    (Path(catalogue.__file__).parent / "azure-naming-tool-resourcetypes.json").read_text(encoding="utf-8"))}
VM = re.escape("~!@#$%^&*()=+_[]{}\\|;:.'\",<>/? ")  # the published VM list, plus spaces
CTRL = "\x00-\x1f\x7f"
ANY_BUT = "[^{chars}" + CTRL + "]"

# key: (published rule as a regex over the whole name, min length, max length)
PUBLISHED = {
    "azure/Blockchain/blockchainMembers": (r"[a-z][a-z0-9]*", 2, 20),
    "azure/Compute/virtualMachines#Linux": (f"[^{VM}{CTRL}]*[^{VM}{CTRL}-]", 1, 64),
    "azure/Compute/virtualMachines#Windows": (f"[^{VM}{CTRL}]*[^{VM}{CTRL}-]", 1, 15),
    "azure/Compute/virtualMachineScaleSets#Linux": (f"[^{VM}{CTRL}]*[^{VM}{CTRL}-]", 1, 64),
    "azure/Compute/virtualMachineScaleSets#Windows": (f"[^{VM}{CTRL}]*[^{VM}{CTRL}-]", 1, 15),
    "azure/CustomerInsights/hubs/authorizationPolicies": (r"[a-zA-Z0-9](?:[a-zA-Z0-9_.]*[a-zA-Z0-9])?", 1, 50),
    "azure/CustomProviders/associations": (rf"[^%&\\?/{CTRL}]*[^%&\\?/. {CTRL}]", 1, 180),
    "azure/CustomProviders/resourceProviders": (rf"[^%&\\?/{CTRL}]*[^%&\\?/. {CTRL}]", 3, 64),
    "azure/MachineLearning/commitmentPlans": (rf"[^<>*%&:?+/\\{CTRL}]*[^<>*%&:?+/\\ {CTRL}]", 1, 260),
    "azure/MachineLearning/webServices": (rf"[^<>*%&:?+/\\{CTRL}]*[^<>*%&:?+/\\ {CTRL}]", 1, 260),
    "azure/MachineLearning/workspaces": (rf"[^<>*%&:?+/\\{CTRL}]*[^<>*%&:?+/\\ {CTRL}]", 1, 260),
    "azure/Network/dnsZones": (r"[a-zA-Z0-9_-]+(?:\.[a-zA-Z0-9_-]+){1,33}", 1, 63),
    "azure/Network/privateDnsZones": (r"[a-zA-Z0-9_-]+(?:\.[a-zA-Z0-9_-]+){1,33}", 1, 63),
    "azure/Network/virtualNetworks": (r"[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9_])?", 2, 64),
    "azure/NotificationHubs/namespaces": (r"[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", 6, 50),
    "azure/OperationalInsights/clusters": (r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", 4, 63),
    "azure/OperationalInsights/workspaces": (r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", 4, 63),
    "azure/PowerBIDedicated/capacities": (r"[a-z][a-z0-9]*", 3, 63),
    "azure/Sql/servers/firewallRules": (rf"[^<>*%&:;\\/?{CTRL}]*[^<>*%&:;\\/?.{CTRL}]", 1, 128),
    "azure/Web/certificates": (rf"[^/{CTRL}]*[^/ .{CTRL}]", 1, 260),
}
REWRITTEN = ("azure/DevTestLab/labs/virtualmachines#Linux", "azure/DevTestLab/labs/virtualmachines#Windows",
             "azure/Storage/blob")
# Characters that matter to these rules, a few that don't, and non-ASCII letters.
ALPHABET = "aZz09-_. ~!#$%^&*()=+[]{}\\|;:'\",<>/?@é日Ω"


def published_accepts(key: str, name: str) -> bool:
    """The published rule (Cairn stores at most 255 characters, whatever the provider allows)."""
    pattern, low, high = PUBLISHED[key]
    return low <= len(name) <= min(high, renderer.HARD_MAX) and re.fullmatch(pattern, name) is not None


def constraints(entry, **override) -> renderer.Constraints:
    return renderer.Constraints(**{**{k: getattr(entry, k) for k in catalogue.PLATFORM_FIELDS}, **override})


def names(pattern: str, high: int):
    """Random names over ALPHABET, and names the rule itself generates (so the accepted side is well covered)."""
    return st.one_of(st.text(ALPHABET, max_size=high + 3),
                     st.from_regex(re.compile(pattern), fullmatch=True).filter(lambda s: len(s) <= high + 3))


def test_every_contradiction_is_decided_by_the_published_rule_or_says_both_apply():
    azure = [e for e in catalogue.entries().values() if e.provider == "Azure"]
    decided = {e.key for e in azure if e.decided_by == "microsoft"}
    assert decided == set(PUBLISHED)
    for entry in azure:
        if entry.decided_by:
            assert entry.contradiction and entry.published_rule and "\n" not in entry.contradiction
            assert entry.decided_by_label and entry.version >= 2 or entry.decided_by == "both"
        if entry.decided_by == "microsoft":
            assert "resource-name-rules.md" in entry.decision_source
            assert "both apply" not in entry.notes  # the table's stricter-reading notes are gone
    both = {e.key for e in azure if e.decided_by == "both"}
    assert both == {"azure/Storage/blob"}  # "any URL characters": too vague to decide, so both readings apply
    assert "both apply" in catalogue.get("azure/Storage/blob").contradiction


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_a_decided_entry_accepts_exactly_what_the_published_rule_accepts(key):
    entry = catalogue.get(key)
    pattern, _, high = PUBLISHED[key]
    limits = constraints(entry)

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(names(pattern, min(high, 80)))
    def check(name):
        if not name.isprintable():
            return  # the published rules forbid control characters; Cairn refuses every unprintable one
        assert (renderer.violations(name, limits) == []) == published_accepts(key, name), name

    check()


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_a_decided_entry_renders_only_names_the_published_rule_allows(key):
    entry = catalogue.get(key)
    limits = constraints(entry)
    emitted = 0
    for pattern in ("{v}", "{v}-{seq:2}", "{v}{seq:3}", "st{v}.{v}"):
        for value in ("Prod", "ＰＲＯＤ", "web.app", "a b", "---", "ab", "x" * 300, "1234567", "日本語", "a\\b;c",
                      "tilde~bang!", "under_score"):
            spec = renderer.FieldSpec(pattern, delimiter="-", fallback_delimiters="_", truncation="shorten_values",
                                      free_text_keys=frozenset({"v"}))
            result = renderer.render(spec, {"v": value}, seq=7, constraints=limits)
            if result.ok:
                emitted += 1
                assert published_accepts(key, result.value), (pattern, value, result.value)
            else:
                assert result.refusals and all(r.strip() for r in result.refusals)
    assert emitted > 0


def test_decided_rules_change_what_renders():
    """Concrete cases where the table and the published rule part ways."""
    def render(key, value, pattern="{v}"):
        spec = renderer.FieldSpec(pattern, delimiter="-", free_text_keys=frozenset({"v"}))
        return renderer.render(spec, {"v": value}, seq=1, constraints=constraints(catalogue.get(key)))

    assert render("azure/Blockchain/blockchainMembers", "ab").value == "ab"  # the table's regex refused 2 letters
    assert render("azure/PowerBIDedicated/capacities", "cap-01").value == "cap01"  # no hyphens
    vm = render("azure/Compute/virtualMachines#Windows", "web.app~1")
    assert vm.value == "webapp1" and any("removed characters" in r for r in vm.repairs)
    assert render("azure/Compute/virtualMachines#Linux", "web\\'01").value == "web01"
    first = render("azure/NotificationHubs/namespaces", "1notify")  # must start with a letter: the digit goes
    assert first.value == "notify" and any("leading" in r for r in first.repairs)
    assert render("azure/NotificationHubs/namespaces", "123456").value is None  # nothing would be left
    assert render("azure/Network/dnsZones", "contoso").value is None  # one label: refused
    assert render("azure/Network/dnsZones", "contoso.com").value == "contoso.com"
    assert render("azure/Sql/servers/firewallRules", "a;b").value == "ab"
    assert render("azure/Web/certificates", "cert.").value == "cert"


@pytest.mark.parametrize("key", REWRITTEN)
def test_rewritten_patterns_are_equivalent_to_the_old_python_re_pattern(key):
    """The old pattern (Python re: a lookahead, a count over 1000) against the new representation
    (an RE2 pattern, lengths and first/last characters), on many strings. Cairn stores at most 255
    characters; compared here at the table's own maximum."""
    entry = catalogue.get(key)
    old = re.compile(entry.source_regex)
    row = RAW[int(re.search(r"id (\d+) ", entry.source).group(1))]
    table_max = int(row["lengthMax"])
    new = constraints(entry, max_length=table_max)
    assert patterns.check_pattern(entry.regex) is None and patterns.check_pattern(entry.source_regex)
    alphabet = "aZ09-_.~ !/é"

    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.text(alphabet, max_size=70), st.text("09-", max_size=20),
                     st.from_regex(old, fullmatch=True).filter(lambda s: len(s) <= 1100)))
    def check(name):
        assert (old.fullmatch(name) is not None) == (renderer.violations(name, new) == []), name

    check()
    for edge in ("", "-", "0", "123", "a", "1-2", "-a", "a-", "a" * table_max, "a" * (table_max + 1), "9" * 15):
        assert (old.fullmatch(edge) is not None) == (renderer.violations(edge, new) == []), edge


def test_every_catalogue_pattern_runs_on_re2_without_a_fallback():
    for entry in catalogue.entries().values():
        if entry.regex:
            assert patterns.check_pattern(entry.regex) is None, entry.key
            renderer.compile_pattern(entry.regex)
    with pytest.raises(renderer.RegexError):  # no longer special-cased: whoever types it gets RE2's answer
        renderer.compile_pattern(catalogue.get("azure/DevTestLab/labs/virtualmachines#Linux").source_regex)


def test_the_decision_is_shown_on_the_catalogue_and_the_platform(app, org, admin, naming):
    client, auth = signed_in(app, admin)
    found = page_text(client.get("/rules/platforms/catalogue?q=virtualMachines+Windows&provider=Azure"))
    assert "published rule decides" in found and "resource-name-rules.md" in found
    assert auth.post("/rules/platforms/catalogue/add?key=azure/Compute/virtualMachines%23Windows", {}).status_code == 302
    platform = db.session.scalars(sa.select(Platform).where(
        Platform.catalogue_key == "azure/Compute/virtualMachines#Windows")).one()
    assert (platform.max_length, platform.invalid_last_chars, platform.catalogue_version) == (15, "-", 2)
    page = page_text(client.get(f"/rules/platforms/{platform.id}"))
    assert "published rule decides" in page and "include periods or end with a hyphen" in page
    # The platform renders per the published rule through the service the rule page uses.
    rule = services.rule_create(workspace=naming.workspace, name="VMs", platform_id=platform.id)
    field = services.field_create(rule=rule, name="vm", pattern="vm-{project}-{seq:2}")
    db.session.commit()
    spec, limits = services.spec_of(field, frozenset()), services.constraints_of(platform)
    assert renderer.render(spec, {"project": "web.app"}, seq=3, constraints=limits).value == "vm-webapp-03"


def test_the_migration_rewrites_stored_platforms_to_the_catalogues_re2_forms():
    """Platforms added before the rewrite stored the table's pattern; migration 0025 gives them the same RE2 form
    (and first/last rules) the catalogue now has."""
    import importlib.util

    from app.rules.catalogue import azure_build

    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0025_rules_global_stale.py"
    spec = importlib.util.spec_from_file_location("migration_0023", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert set(migration.RE2_FORMS) == set(azure_build.REWRITES)
    for old, (new, first, last) in migration.RE2_FORMS.items():
        regex, edges, _ = azure_build.REWRITES[old]
        assert (new, first, last) == (regex, edges.get("first", ""), edges.get("last", ""))
        entry = next(e for e in catalogue.entries().values() if e.source_regex == old)
        assert entry.regex == new and (not first or (entry.invalid_first_chars, entry.invalid_last_chars) == (first,
                                                                                                            last))
