"""A populated Cairn to attack: the demo organization (every area's data), a second organization, a token.

Built once per test through `flask seed-demo` (the same loaders `make run` uses), so
every id route has a real row behind it. Each role is a fresh browser signed in
through the real form; the bearer role sends only `Authorization: Bearer`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from tests.helpers import Auth, browser, csrf_from

DEMO_PASSWORD = "cairn-demo-password"
# role name -> (organization, email); None: anonymous. "bearer" is the demo agent's API token.
ROLES = ("anonymous", "customer", "other_customer", "agent", "manager", "admin", "other_admin", "bearer")
# The demo role each test role acts as (for what the route allows); the other organization's roles act on the
# demo organization's objects, which must answer 404 (or 403 when the role is refused first).
ACTS_AS = {"anonymous": None, "customer": "customer", "other_customer": "customer", "agent": "agent",
           "manager": "manager", "admin": "admin", "other_admin": "admin", "bearer": "agent"}
FOREIGN = {"other_customer", "other_admin"}


@dataclass
class World:
    app: object
    clients: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)  # role -> csrf token
    ids: dict = field(default_factory=dict)  # (endpoint or "", arg) -> id
    bearer: str = ""

    def client(self, role: str):
        return self.clients[role]

    def headers(self, role: str) -> dict:
        return {"Authorization": f"Bearer {self.bearer}"} if role == "bearer" else {}

    def csrf(self, role: str) -> str:
        return self.tokens.get(role, "")

    def refresh_csrf(self, role: str) -> None:
        if role == "bearer":
            return
        page = "/preferences" if role != "anonymous" else "/signin"
        response = self.clients[role].get(page)
        if response.status_code == 200:
            self.tokens[role] = csrf_from(response.get_data(as_text=True))
        else:  # signed out by an earlier request (sign-out, session end): sign in again
            self.clients[role] = _sign_in(self.app, _EMAILS[role])
            self.refresh_csrf(role)


_EMAILS = {"customer": "customer@demo.example.com", "agent": "agent@demo.example.com",
           "manager": "manager@demo.example.com", "admin": "admin@demo.example.com", "other_customer": "buyer@initech.example.com",
           "other_admin": "boss@initech.example.com"}


def _sign_in(app, email: str, password: str = DEMO_PASSWORD):
    client = browser(app)
    response = Auth(client).login(email, password)
    assert response.status_code == 302, f"sign-in of {email} failed: {response.status_code}"
    return client


def seed_export_templates(app) -> None:
    """The exports data migration's built-in templates (clean_database empties every table after each test)."""
    from app.exports.seeds import seed_default_templates
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as connection:
            seed_default_templates(connection)


def build_world(app) -> World:
    from app.accounts.tokens import api_token_create
    from app.extensions import db
    from tests.factories import make_member, make_organization

    seed_export_templates(app)
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        other = make_organization("Initech")
        make_member(other, "admin", _EMAILS["other_admin"], password=DEMO_PASSWORD)
        make_member(other, "customer", _EMAILS["other_customer"], password=DEMO_PASSWORD)
        from app.accounts.models import User

        agent = db.session.scalars(sa.select(User).where(User.email == _EMAILS["agent"])).one()
        _row, bearer = api_token_create(user=agent, name="matrix")
        ids = demo_ids()
    world = World(app=app, ids=ids, bearer=bearer)
    for role in ROLES:
        if role in _EMAILS:
            world.clients[role] = _sign_in(app, _EMAILS[role])
        else:
            world.clients[role] = browser(app)
        world.refresh_csrf(role)
    return world


def _first(statement):
    from app.extensions import db

    return db.session.scalar(statement.limit(1))


def demo_ids() -> dict:
    """A real row of the demo organization for each id argument of the routes (by endpoint where it differs)."""
    from app.accounts.models import ApiToken, Organization, User, UserSession, Workspace
    from app.exports import models as ex
    from app.projects import models as pj
    from app.rules import models as ru
    from app.tickets import models as tk

    org = _first(sa.select(Organization.id).where(Organization.slug == "demo"))
    customer = _first(sa.select(User.id).where(User.email == _EMAILS["customer"]))
    agent = _first(sa.select(User.id).where(User.email == _EMAILS["agent"]))
    # Member routes act on a member no test role signs in as (deactivating the agent would end its session).
    bystander = _first(sa.select(User.id).where(User.email == "customer2@demo.example.com"))
    ticket = _first(sa.select(tk.Ticket.id).where(tk.Ticket.organization_id == org, tk.Ticket.customer_id == customer)
                    .order_by(tk.Ticket.id))
    project = _first(sa.select(pj.Project.id).where(pj.Project.organization_id == org).order_by(pj.Project.id))
    generated = _first(sa.select(pj.GeneratedProject.id).where(pj.GeneratedProject.project_id == project))
    rule = _first(sa.select(ru.Rule.id).order_by(ru.Rule.id))
    by_model = {
        "ticket_id": ticket, "project_id": project, "rule_id": rule, "member_id": bystander,
        "article_id": _first(sa.select(tk.KnowledgeArticle.id)),
        "policy_id": _first(sa.select(tk.SLAPolicy.id).where(tk.SLAPolicy.organization_id == org)),
        "workspace_id": _first(sa.select(Workspace.id).where(Workspace.organization_id == org)),
        "token_id": _first(sa.select(ApiToken.id).where(ApiToken.user_id == agent)),
        "session_id": _first(sa.select(UserSession.id).where(UserSession.user_id == customer)),
        "date_id": _first(sa.select(pj.ImportantDate.id).where(pj.ImportantDate.project_id == project)),
        "meta_id": _first(sa.select(pj.ProjectMeta.id).where(pj.ProjectMeta.project_id == project)),
        "export_id": _first(sa.select(pj.RepositoryExport.id)),
        "request_id": _first(sa.select(ex.ExportRequest.id)),
        "schedule_id": _first(sa.select(ex.ExportSchedule.id)),
        "entry_id": _first(sa.select(ex.TimeEntry.id).where(ex.TimeEntry.user_id == agent)),
        "field_id": _first(sa.select(ru.RuleField.id).where(ru.RuleField.rule_id == rule)),
        "dimension_id": _first(sa.select(ru.Dimension.id)),
        "value_id": _first(sa.select(ru.DimensionValue.id)),
        "platform_id": _first(sa.select(ru.Platform.id)),
        "name_id": _first(sa.select(ru.GeneratedName.id)),
        "preview_id": _first(sa.select(ru.RulePreview.id)),
        "check_id": _first(sa.select(ru.ConflictCheck.id)),
        "run_id": _first(sa.select(ru.PropagationRun.id)),
        "generation_id": _first(sa.select(ru.Generation.id)),
        "row_id": generated,
    }
    ids = {("", arg): value for arg, value in by_model.items()}
    ids.update({
        ("projects", "generation_id"): generated,
        ("projects", "file_id"): _first(sa.select(pj.ProjectFile.id).where(pj.ProjectFile.generated_project_id == generated)),
        ("projects", "attachment_id"): _first(sa.select(pj.ProjectAttachment.id)),
        ("projects", "template_id"): _first(sa.select(pj.ProjectTemplate.id)),
        ("tickets", "attachment_id"): _first(sa.select(tk.TicketAttachment.id)),
        ("exports", "template_id"): _first(sa.select(ex.ExportTemplate.id).where(ex.ExportTemplate.organization_id == org)),
    })
    return ids


# Values for the routes' other arguments.
TEXT_ARGS = {"kind_name": "project-generate", "token": "not-a-real-token", "filename": "css/app.css",
             "action": "archive"}
# Converters naming a row: integer ids, UUIDv7 keys (projects, exports), either (job status); a missing row's stand-in.
ID_CONVERTERS = ("int", "uuid", "rowid")
MISSING_ID = {"int": 1, "uuid": "00000000-0000-7000-8000-000000000000", "rowid": 1}
_ARG = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>")


def route_url(world: World, rule, override: dict | None = None) -> tuple[str, bool]:
    """The rule's URL with a real demo row for each id; and whether every id was found (else 404 is expected)."""
    blueprint = rule.endpoint.split(".")[0]
    found = True
    values = {}
    for converter, name in _ARG.findall(rule.rule):
        if override and name in override:
            values[name] = override[name]
        elif converter in ID_CONVERTERS:
            value = world.ids.get((blueprint, name), world.ids.get(("", name)))
            found = found and value is not None
            values[name] = value if value is not None else MISSING_ID[converter]
        else:
            values[name] = TEXT_ARGS.get(name, "x")
    url = _ARG.sub(lambda m: str(values[m.group(2)]), rule.rule)
    return url, found


def routes(app):
    """Every route and method (HEAD/OPTIONS aside), sorted; GETs first."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule))
    return sorted(found, key=lambda pair: (pair[0] != "GET", pair[1].rule, pair[0]))
