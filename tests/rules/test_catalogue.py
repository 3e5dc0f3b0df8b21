"""The built-in catalogue: every entry renders only names its source allows; workspaces add, update and check
against catalogue platforms (uniqueness scope drives the conflict check) through the HTTP client."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.services import workspace_create
from app.extensions import db
from app.rules import catalogue, renderer, services
from app.rules.models import ConflictCheck, Platform
from tests.helpers import page_text, signed_in
from tests.rules.test_catalogue_rules import published_accepts

AWKWARD = ["Prod", "ＰＲＯＤ", "ünïcødé-Ωmega", "---", "_._", "x" * 300, "1234567", "Web App", "日本語", "a", "ab",
           "prod\u200b", "e\u0301", "A-b_c.d", "ﬁle①"]
PATTERNS = ["{v}", "{v}-{seq:2}", "st{v}{seq:3}", "{seq:2}{v}"]
RAW = {row["id"]: row for row in json.loads(
    (Path(catalogue.__file__).parent / "azure-naming-tool-resourcetypes.json").read_text(encoding="utf-8"))}


def _constraints(entry) -> renderer.Constraints:
    return renderer.Constraints(**{k: getattr(entry, k) for k in catalogue.PLATFORM_FIELDS})


def _forbidden(entry, name: str) -> list[str]:
    """What the entry's sources (not Cairn's reading of them) say against `name`: Microsoft's published rule
    where it decided a contradiction in the table (restated independently in test_catalogue_rules), else every
    column of the table and its regex."""
    if entry.decided_by == "microsoft":
        return [] if published_accepts(entry.key, name) else ["published rule"]
    problems = []
    if entry.source_regex and re.fullmatch(entry.source_regex, name) is None:
        problems.append("source regex")
    if entry.min_length and len(name) < entry.min_length or entry.max_length and len(name) > entry.max_length:
        problems.append("length")
    match = re.search(r"id (\d+) ", entry.source)
    if entry.provider == "Azure" and match:
        row = RAW[int(match.group(1))]
        if any(c in name for c in row["invalidCharacters"]):
            problems.append("invalid character")
        if row["invalidCharactersStart"] and name[0] in row["invalidCharactersStart"]:
            problems.append("invalid start")
        if row["invalidCharactersEnd"] and name[-1] in row["invalidCharactersEnd"]:
            problems.append("invalid end")
        if any(c + c in name for c in row["invalidCharactersConsecutive"]):
            problems.append("invalid repeat")
        for key in ("lengthMin", "lengthMax"):
            limit = int(row[key]) if str(row[key]).isdigit() else None
            if limit and (len(name) < limit if key == "lengthMin" else len(name) > limit):
                problems.append(key)
    return problems


def test_the_catalogue_covers_every_azure_type_and_the_other_clouds():
    entries = catalogue.entries()
    azure = [e for e in entries.values() if e.provider == "Azure"]
    assert len(azure) == len(RAW) == 334 and sum(1 for e in azure if e.source_regex) == 317
    keys = set(entries)
    for key in ("aws/s3/bucket", "aws/iam/role", "aws/iam/user", "aws/ec2/name-tag", "aws/lambda/function",
                "aws/rds/db-instance", "aws/dynamodb/table", "aws/sqs/queue", "aws/sns/topic",
                "aws/cloudformation/stack", "gcp/project-id", "gcp/storage/bucket", "gcp/compute/instance",
                "gcp/gke/cluster", "gcp/iam/service-account", "gcp/pubsub/topic", "gcp/pubsub/subscription",
                "kubernetes/dns-1123-label", "kubernetes/dns-1123-subdomain", "kubernetes/label-value"):
        assert key in keys
    for entry in entries.values():
        assert entry.source and entry.uniqueness in catalogue.UNIQUENESS and entry.version >= 1
        services._platform_fields(entry.platform_fields())  # every entry is a valid platform
    storage = entries["azure/Storage/storageAccounts"]
    assert (storage.min_length, storage.max_length, storage.allowed_chars, storage.lowercase_only,
            storage.uniqueness) == (3, 24, "0-9a-z", True, "global")
    assert entries["azure/Network/virtualnetworks/subnets"].uniqueness == "parent"
    assert [e.key for e in catalogue.search("storage account", "Azure")][:1] == ["azure/Storage/storageAccounts"]


@pytest.mark.parametrize("provider", ["Azure", "AWS", "Google Cloud", "Kubernetes"])
def test_awkward_values_render_only_names_the_entry_allows(provider):
    """For every entry with a regex: awkward values (case, unicode, full-width, delimiters only, long, digits only)
    render to names that match its source regex and lengths, or are refused with a reason. 0 forbidden names."""
    emitted = refused = 0
    forbidden = []
    for entry in (e for e in catalogue.entries().values() if e.provider == provider and e.source_regex):
        constraints = _constraints(entry)
        for pattern in PATTERNS:
            for truncation in ("refuse", "shorten_values", "truncate_end"):
                spec = renderer.FieldSpec(pattern, casing="as_is", delimiter="-", fallback_delimiters="_",
                                          truncation=truncation, free_text_keys=frozenset({"v"}))
                for value in AWKWARD:
                    result = renderer.render(spec, {"v": value}, seq=7, constraints=constraints)
                    if result.ok:
                        emitted += 1
                        problems = _forbidden(entry, result.value)
                        if problems:
                            forbidden.append((entry.key, pattern, value, result.value, problems))
                    else:
                        refused += 1
                        assert result.refusals and all(r.strip() for r in result.refusals)
    assert forbidden == []
    assert emitted > 0 and refused > 0


def test_add_from_catalogue_update_available_and_own_platforms(app, org, admin, naming, monkeypatch):
    client, auth = signed_in(app, admin)
    page = page_text(client.get("/rules/platforms"))
    assert "Add from the catalogue" in page
    search = page_text(client.get("/rules/platforms/catalogue?q=storage+account&provider=Azure"))
    assert "Azure Storage/storageAccounts (st)" in search and "resource-name-rules" in search
    assert "Nothing in the catalogue matches" in page_text(client.get("/rules/platforms/catalogue?q=zzzz-nothing"))
    added = auth.post("/rules/platforms/catalogue/add?key=azure/Storage/storageAccounts", {})
    assert added.status_code == 302
    platform = db.session.scalars(sa.select(Platform).where(Platform.catalogue_key == "azure/Storage/storageAccounts")).one()
    assert (platform.min_length, platform.max_length, platform.uniqueness_scope, platform.catalogue_version) == (
        3, 24, "global", 1)
    again = auth.post("/rules/platforms/catalogue/add?key=azure/Storage/storageAccounts", {})
    assert again.status_code == 302 and "already a platform" in page_text(client.get(again.headers["Location"]))
    assert "added" in page_text(client.get("/rules/platforms/catalogue?q=storageAccounts"))

    # The catalogue moves on: the platform offers the update, and taking it follows the new version.
    entry = catalogue.get("azure/Storage/storageAccounts")
    newer = entry.__class__(**{**entry.__dict__, "version": 2, "max_length": 20})
    monkeypatch.setitem(catalogue.entries(), entry.key, newer)
    assert "update available" in page_text(client.get("/rules/platforms"))
    assert auth.post(f"/rules/platforms/{platform.id}/catalogue-update", {}).status_code == 302
    db.session.expire_all()
    platform = db.session.get(Platform, platform.id)
    assert (platform.catalogue_version, platform.max_length, platform.update_available) == (2, 20, False)
    # A workspace still defines its own.
    own = auth.post("/rules/platforms", {"name": "Our CMDB", "min_length": "2", "max_length": "40",
                                         "allowed_chars": "^/\\:", "uniqueness_scope": "account"})
    assert own.status_code == 302
    bad = auth.post("/rules/platforms", {"name": "Bad", "min_length": "9", "max_length": "4"})
    assert bad.status_code == 422 and "minimum length is larger" in page_text(bad)


def _check(auth, proposed, platform):
    response = auth.post("/rules/conflicts", {"proposed_strings": proposed, "scope": "platform",
                                              "platform_id": str(platform.id)})
    assert response.status_code == 302, page_text(response)
    db.session.expire_all()
    return db.session.scalars(sa.select(ConflictCheck).order_by(ConflictCheck.id.desc())).first()


def test_uniqueness_scope_drives_the_conflict_check(app, org, admin, naming, run_jobs):
    """A storage account name is checked across the organization; a subnet name only warns (another VNet is fine)."""
    client, auth = signed_in(app, admin)
    storage = services.platform_add_from_catalogue(workspace=naming.workspace, key="azure/Storage/storageAccounts")
    subnet = services.platform_add_from_catalogue(workspace=naming.workspace, key="azure/Network/virtualnetworks/subnets")
    other = workspace_create(organization=org, actor=admin, name="Other team")
    theirs = services.platform_add_from_catalogue(workspace=other, key="azure/Storage/storageAccounts")
    their_subnet = services.platform_add_from_catalogue(workspace=other, key="azure/Network/virtualnetworks/subnets")
    services.dimension_create(workspace=other, key="project", kind="free_text")
    for platform, value in ((theirs, "stprodweb01"), (their_subnet, "snet-prod-01")):
        rule = services.rule_create(workspace=other, name=f"r{platform.id}", platform_id=platform.id)
        field = services.field_create(rule=rule, name="f", pattern="{project}{seq:2}", delimiter="")
        from app.rules.models import GeneratedName

        db.session.add(GeneratedName(organization_id=org.id, workspace_id=other.id, value=value, normalized=value,
                                     reversed_value=value[::-1], dimension_values={}, rule_id=rule.id,
                                     field_id=field.id))
    mine = services.rule_create(workspace=naming.workspace, name="subnets", platform_id=subnet.id)
    services.field_create(rule=mine, name="subnet", pattern="snet-{project}-{seq:2}")
    db.session.commit()

    check = _check(auth, "stprodweb01\nstfresh01", storage)
    run_jobs()
    db.session.expire_all()
    check = db.session.get(ConflictCheck, check.id)
    findings = {r.proposed_value: (r.severity, r.message) for r in check.results}
    assert findings["stprodweb01"][0] == "error" and "unique globally" in findings["stprodweb01"][1]
    assert "stfresh01" not in findings

    check = _check(auth, "snet-prod-01", subnet)  # the other workspace's subnet: another VNet, not a clash
    run_jobs()
    db.session.expire_all()
    assert db.session.get(ConflictCheck, check.id).results == []
    from app.rules.models import GeneratedName

    db.session.add(GeneratedName(organization_id=org.id, workspace_id=naming.workspace.id, value="snet-prod-01",
                                 normalized="snetprod01", reversed_value="10-dorp-tens", dimension_values={},
                                 rule_id=mine.id, field_id=mine.fields[0].id))
    db.session.commit()
    check = _check(auth, "snet-prod-01", subnet)
    run_jobs()
    db.session.expire_all()
    [finding] = db.session.get(ConflictCheck, check.id).results
    assert finding.severity == "warning" and "same subnet" not in finding.message and "virtual network" in finding.message
